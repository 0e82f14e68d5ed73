import { createConnection } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startIcebergCatalog, type IcebergCatalogServer } from "./iceberg-catalog.js";
import { startMoto, type MotoServer } from "./moto.js";

/** Whether something accepts a TCP connection at host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

describe("startIcebergCatalog: Apache Iceberg's RESTCatalogServer on moto", () => {
  let s3: MotoServer;
  let catalog: IcebergCatalogServer;
  beforeAll(async () => {
    s3 = await startMoto();
    catalog = await startIcebergCatalog(s3);
  }, 600_000);
  afterAll(async () => {
    await catalog?.stop();
    await s3?.stop();
  });

  it("answers the REST API on 127.0.0.1 only (the launcher's connector, not RESTCatalogServer's 0.0.0.0)", async () => {
    const port = Number(new URL(catalog.uri).port);
    expect(await accepts("127.0.0.1", port)).toBe(true);
    // 127.0.0.2 is loopback too: a server bound to 0.0.0.0 would accept it
    expect(await accepts("127.0.0.2", port)).toBe(false);
    const config = (await (await fetch(`${catalog.uri}/v1/config`)).json()) as { endpoints?: string[] };
    expect(config.endpoints).toContain("POST /v1/{prefix}/transactions/commit");
  });

  it("keeps namespaces in its SQLite catalog and table metadata on the S3 server", async () => {
    const created = await fetch(`${catalog.uri}/v1/namespaces`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ namespace: ["probe"] }) });
    expect(created.status).toBe(200);
    const listed = (await (await fetch(`${catalog.uri}/v1/namespaces`)).json()) as { namespaces: string[][] };
    expect(listed.namespaces).toContainEqual(["probe"]);
    const table = await fetch(`${catalog.uri}/v1/namespaces/probe/tables`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "t", schema: { type: "struct", "schema-id": 0, fields: [{ id: 1, name: "x", required: false, type: "long" }] } }),
    });
    expect(table.status).toBe(200);
    const { "metadata-location": location } = (await table.json()) as { "metadata-location": string };
    expect(location.startsWith(`${catalog.warehouse}probe/t/metadata/`)).toBe(true);
    const [bucket, ...key] = location.slice("s3://".length).split("/");
    const listing = await (await fetch(`${s3.endpoint}/${bucket}?list-type=2&prefix=${encodeURIComponent(key.join("/"))}`)).text();
    expect(listing).toContain(`<Key>${key.join("/")}</Key>`);
    expect(catalog.env.ICEBERG_REST_URI).toBe(catalog.uri);
  });
});
