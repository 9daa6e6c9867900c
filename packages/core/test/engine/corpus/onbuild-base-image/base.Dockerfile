FROM kiln-test/busybox
ONBUILD COPY trigger.txt /from-onbuild.txt
ONBUILD LABEL triggered=yes
ONBUILD ENV ONBUILD_RAN=1
LABEL base=yes
