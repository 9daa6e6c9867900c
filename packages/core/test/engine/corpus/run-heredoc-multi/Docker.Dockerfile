# What docker build runs for ./Dockerfile, written without heredocs (the test dockerd, docker
# 20.10, has no heredoc syntax): SHELL with the command line, then each body and its delimiter,
# exactly as BuildKit passes a RUN whose heredocs are not the whole command.
FROM kiln-test/busybox
RUN ["/bin/sh", "-c", "<<FIRST cat > /multi-1 && <<SECOND cat > /multi-2\nfirst body\nFIRST\nsecond body, home=$HOME\nSECOND"]
RUN ["/bin/sh", "-c", "cat <<'LITERAL' > /literal && cat <<EXPANDED > /expanded\nhome=$HOME\nLITERAL\nhome=$HOME\nEXPANDED"]
USER app
RUN ["/bin/sh", "-c", "<<EOF sh -e\nmkdir -p \"$HOME/from-heredoc\"\necho \"$(id -u):$(id -g) $(id -un)\" > \"$HOME/from-heredoc/id\"\nEOF"]
