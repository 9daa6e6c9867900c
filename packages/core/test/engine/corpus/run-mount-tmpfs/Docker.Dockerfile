FROM kiln-test/busybox
RUN --mount=type=tmpfs,target=/scratch \
    echo temp > /scratch/file && grep -c ' /scratch ' /proc/mounts > /mounted && cat /scratch/file > /seen
RUN --mount=type=tmpfs,target=/tmp/other \
    touch /tmp/other/f && ls /tmp/other > /other
RUN test ! -e /scratch/file && echo gone > /after
# docker 20.10 (BuildKit 0.8) leaves the mount points it made in the image; BuildKit 0.12 and Kiln do not.
RUN rmdir /scratch /tmp/other
