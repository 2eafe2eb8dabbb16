# vodsign container image.
#
#   docker build -t vodsign --build-arg VODSIGN_GIT_SHA="$(git rev-parse --short HEAD)" .
#   docker run -p 8080:8080 \
#     -e VODSIGN_SECRET_ID_FILE=/run/secrets/vod_secret_id \
#     -e VODSIGN_SECRET_KEY_FILE=/run/secrets/vod_secret_key \
#     -v "$PWD/secrets:/run/secrets:ro" vodsign
#
# Stages: chef (the tool) -> planner (dependency recipe) -> builder (dependencies cached in
# their own layer, then the service, --locked) -> a distroless runtime as a non-root user.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
WORKDIR /src
RUN cargo install cargo-chef --locked --version 0.1.78

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only: this layer is reused until Cargo.toml or Cargo.lock change.
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
# Shown as the git_sha label of vodsign_build_info; optional.
ARG VODSIGN_GIT_SHA=unknown
ENV VODSIGN_GIT_SHA=${VODSIGN_GIT_SHA}
RUN cargo build --release --locked --bin vodsign

# glibc and CA certificates, no shell, no package manager; uid/gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
LABEL org.opencontainers.image.title="vodsign" \
      org.opencontainers.image.description="Issues Tencent Cloud VOD upload signatures to authenticated app users" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"
COPY --from=builder /src/target/release/vodsign /usr/local/bin/vodsign
# Production-leaning defaults; refuses to start until the VOD secrets are provided.
COPY config/vodsign.toml /etc/vodsign/vodsign.toml
ENV VODSIGN_CONFIG=/etc/vodsign/vodsign.toml
USER 65532:65532
# 8080: the public API. 8081: the admin listener (/metrics), for the internal network only.
EXPOSE 8080 8081
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/vodsign", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/vodsign"]
CMD ["serve"]
