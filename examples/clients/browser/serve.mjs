// A tiny static server for the example page, on one of the origins the development
// configuration allows (http://localhost:3000, else http://localhost:5173).
//
//   node serve.mjs          # then open http://localhost:3000/
//
// The test imports startServer() to serve the same files.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL(".", import.meta.url));
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".map": "application/json",
};
/** The ports whose localhost origins config/development.toml allows, in order of preference. */
export const ALLOWED_PORTS = [3000, 5173];

function handler(request, response) {
  const path = normalize(decodeURIComponent(new URL(request.url, "http://x").pathname));
  const file = join(ROOT, path.endsWith("/") ? join(path, "index.html") : path);
  if (request.method !== "GET" || !file.startsWith(ROOT) || file.includes(`${sep}.`)) {
    response.writeHead(404).end();
    return;
  }
  readFile(file).then(
    (bytes) => {
      response.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" });
      response.end(bytes);
    },
    () => response.writeHead(404).end(),
  );
}

function listen(port) {
  return new Promise((resolve, reject) => {
    const server = createServer(handler);
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

/** Serves the page on the first free allowed port; resolves to { server, origin }. */
export async function startServer(ports = ALLOWED_PORTS) {
  let last;
  for (const port of ports) {
    try {
      const server = await listen(port);
      return { server, origin: `http://localhost:${port}` };
    } catch (error) {
      if (error.code !== "EADDRINUSE") throw error;
      last = error;
    }
  }
  throw new Error(`ports ${ports.join(", ")} are all in use (${last?.message})`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { origin } = await startServer();
  console.log(`serving ${ROOT} at ${origin}/`);
}
