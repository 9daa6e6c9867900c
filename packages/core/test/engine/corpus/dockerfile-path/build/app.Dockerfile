FROM kiln-test/busybox
COPY . /ctx
