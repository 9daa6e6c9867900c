FROM kiln-test/busybox AS built
RUN mkdir /out && echo artifact > /out/artifact && ln -s artifact /out/link

FROM kiln-test/busybox
# The context, through .dockerignore, read-only by default.
RUN --mount=type=bind,source=data,target=/data \
    find /data | sort > /context-listing && cat /data/file > /content \
    && (touch /data/new 2>/dev/null && echo writable || echo read-only) > /readonly
# The whole context, at the working directory by default target.
WORKDIR /src
RUN --mount=type=bind,target=. cat data/sub/nested > /nested
# rw: writes are allowed and thrown away.
RUN --mount=type=bind,source=data,target=/data,rw \
    echo changed > /data/file && cat /data/file > /rw-seen
RUN --mount=type=bind,source=data,target=/data cat /data/file > /after-rw
# From another stage, a file and a directory.
RUN --mount=type=bind,from=built,source=/out/artifact,target=/mnt/artifact \
    --mount=type=bind,from=built,source=/out,target=/mnt/out \
    cat /mnt/artifact > /from-stage && ls -l /mnt/out | awk '{ print $1, $NF }' | sort > /from-stage-dir
# docker 20.10 (BuildKit 0.8) leaves the mount points it made in the image; BuildKit 0.12 and Kiln do not.
RUN rmdir /data /mnt/out /mnt
