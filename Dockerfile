# p11kms with SoftHSM2, for users who have Docker (docker-compose.yml).
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends softhsm2 opensc python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev
VOLUME ["/var/lib/p11kms"]
EXPOSE 7443
ENTRYPOINT ["node", "dist/src/cli/main.js"]
# The data dir holds the SQLite file, the development CA and certificates, and the token
# (its tokens/ folder is a volume of its own in docker-compose.yml).
CMD ["serve", "--data-dir", "/var/lib/p11kms", "--listen", "0.0.0.0:7443"]
