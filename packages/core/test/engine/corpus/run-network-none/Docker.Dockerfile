# What docker build runs for ./Dockerfile: the test dockerd (docker 20.10) has no RUN --network,
# and every build there uses --network=host; the files the RUNs write do not depend on the network.
FROM kiln-test/busybox
RUN echo offline > /offline
RUN echo host > /host
RUN echo default > /default
