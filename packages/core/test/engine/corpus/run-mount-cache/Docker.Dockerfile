FROM kiln-test/busybox
# A cache mount: what the command keeps there stays out of the image, the target included.
RUN --mount=type=cache,target=/var/cache/app \
    echo cached > /var/cache/app/item && ls /var/cache/app > /listing
# Owner and mode of a new cache, and an id shared by two targets.
RUN --mount=type=cache,id=shared,target=/c1,uid=1000,gid=1000,mode=0750 \
    --mount=type=cache,id=shared,target=/c2 \
    stat -c '%u:%g %a' /c1 > /owner && touch /c1/x && ls /c2 > /shared
WORKDIR /work
# A relative target is under the working directory; a read-only cache refuses writes.
RUN --mount=type=cache,target=rel,ro \
    (touch rel/y 2>/dev/null && echo writable || echo read-only) > /readonly && test -d /work/rel && echo under-workdir > /relative
# docker 20.10 (BuildKit 0.8) leaves the mount points it made in the image; BuildKit 0.12 and Kiln do not.
RUN rmdir /c1 /c2 /var/cache/app /var/cache /work/rel
