# What docker build runs for ./Dockerfile, written without heredocs (the test dockerd, docker
# 20.10, has no heredoc syntax): exactly the argv BuildKit makes from each heredoc RUN.
FROM kiln-test/debian:bookworm
# RUN <<EOF: SHELL with the heredoc text as the script.
RUN ["/bin/sh", "-c", "echo one > /heredoc-plain\necho \"two $0 $HOME\" >> /heredoc-plain\n"]
# RUN <<'EOF' bash: SHELL with the command line, a newline, the text and the delimiter.
RUN ["/bin/sh", "-c", "<<'EOF' bash\nset -o pipefail\necho \"bash ${BASH_VERSINFO[0]} $0\" > /heredoc-bash\nEOF"]
# RUN <<EOF with #!: BuildKit mounts the text as /dev/pipes/EOF (0755) and runs SHELL /dev/pipes/EOF;
# /dev is a tmpfs in the build container, so writing the file there leaves nothing in the layer.
RUN ["/bin/sh", "-c", "mkdir -p /dev/pipes && cat > /dev/pipes/EOF <<'BODY' && chmod 0755 /dev/pipes/EOF && /bin/sh -c /dev/pipes/EOF\n#!/bin/bash\necho \"shebang ${BASH_VERSINFO[0]} $0\" > /heredoc-shebang\nBODY"]
# RUN <<-EOT: the text with leading tabs removed.
RUN ["/bin/sh", "-c", "if [ -d /etc ]; then\necho tabs-stripped > /heredoc-chomped\nfi\n"]
