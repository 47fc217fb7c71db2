# The bank-node image that docker-compose.yaml runs: FROM scratch, nothing but a static bank-node
# binary and the web assets, so it builds on a Docker engine that cannot pull any image.
#
# Do not `docker build .` here: the build context is a folder that scripts/docker-build.sh stages
# (bank-node built on the host for x86_64-unknown-linux-musl, site/ from build-site.sh, and the
# empty data/ and tmp/ folders). Run ./scripts/docker-build.sh instead.
# Dockerfile.multistage builds the same image from source, for engines that can pull rust:.
FROM scratch
COPY bank-node /bank-node
COPY site /site
# The database folder (a named volume in docker-compose.yaml) and SQLite's temp folder, owned by
# the unprivileged user the bank runs as (nobody; numeric, as scratch has no /etc/passwd).
COPY --chown=65534:65534 data /data
COPY --chown=65534:65534 tmp /tmp
ENV BIND_ADDR=0.0.0.0:8080 DATA_DIR=/data SITE_DIR=/site
USER 65534:65534
WORKDIR /data
EXPOSE 8080
VOLUME /data
# No shell or curl in the image: the binary checks itself (GET /healthz on BIND_ADDR's port).
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["/bank-node", "healthcheck"]
ENTRYPOINT ["/bank-node"]
