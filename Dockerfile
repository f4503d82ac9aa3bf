# The dynamo-cassandra server image used by docker-compose.yml.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY translators ./translators
COPY test ./test
COPY bench ./bench
RUN npm ci && npm prune --omit=dev
EXPOSE 8000 29042
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["serve", "--host", "0.0.0.0"]
