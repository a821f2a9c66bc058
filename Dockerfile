# syntax=docker/dockerfile:1
# Build: a static binary (the SQLite driver is pure Go, no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/orderbot ./cmd/orderbot \
 && mkdir -p /out/data

# Run: nothing but the binary, its configuration and CA certificates, as an
# unprivileged user. The SQLite file lives in the /data volume.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/
COPY --from=build /out/orderbot /orderbot
COPY --from=build /src/configs /configs
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV ORDERBOT_DATABASE_URL=sqlite:/data/orderbot.db \
    ORDERBOT_CONFIG=/configs/orderbot.yaml \
    ORDERBOT_HTTP_ADDR=:8080
VOLUME ["/data"]
# serve listens here (ORDERBOT_HTTP_ADDR).
EXPOSE 8080
ENTRYPOINT ["/orderbot"]
CMD ["chat"]
