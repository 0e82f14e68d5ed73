import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { withFileLock } from "./lock.js";
import type { MotoServer } from "./moto.js";
import { freePort } from "./port.js";
import { pinnedDir } from "./python-env.js";
import { startServerProcess } from "./server-process.js";

/**
 * Apache Iceberg's own REST catalog (`org.apache.iceberg.rest.RESTCatalogServer`, the code behind the
 * iceberg-rest-fixture image) from Maven Central. The test-fixtures jar's POM declares no
 * dependencies, so the classpath is named here: Maven resolves it once per machine (jars in the
 * local Maven repository, ~/.m2 by default, or BATON_MAVEN_REPO), about 128 MB.
 */
const ICEBERG = "1.10.0";
const DEPENDENCIES: readonly string[] = [
  dep("org.apache.iceberg", "iceberg-open-api", ICEBERG, "test-fixtures"),
  dep("org.apache.iceberg", "iceberg-core", ICEBERG),
  dep("org.apache.iceberg", "iceberg-core", ICEBERG, "tests"),
  dep("org.apache.iceberg", "iceberg-aws", ICEBERG),
  dep("org.apache.iceberg", "iceberg-aws-bundle", ICEBERG),
  // Hadoop only for its Configuration class: its Jetty 9 and logging would clash with Jetty 11 and slf4j-simple.
  dep("org.apache.hadoop", "hadoop-common", "3.4.1", undefined, ["org.eclipse.jetty", "org.slf4j", "ch.qos.reload4j", "log4j"]),
  dep("org.eclipse.jetty", "jetty-server", "11.0.24"),
  dep("org.eclipse.jetty", "jetty-servlet", "11.0.24"),
  dep("org.xerial", "sqlite-jdbc", "3.47.1.0"),
  dep("org.slf4j", "slf4j-simple", "2.0.16"),
];

function dep(group: string, artifact: string, version: string, classifier?: string, excludeGroups: readonly string[] = []): string {
  const exclusions = excludeGroups.map((g) => `<exclusion><groupId>${g}</groupId><artifactId>*</artifactId></exclusion>`).join("");
  return (
    `<dependency><groupId>${group}</groupId><artifactId>${artifact}</artifactId><version>${version}</version>` +
    (classifier ? `<classifier>${classifier}</classifier>` : "") +
    (exclusions ? `<exclusions>${exclusions}</exclusions>` : "") +
    `</dependency>`
  );
}

const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.baton.testing</groupId><artifactId>iceberg-rest-catalog</artifactId><version>0</version>
  <dependencies>
    ${DEPENDENCIES.join("\n    ")}
  </dependencies>
</project>
`;

/**
 * RESTCatalogServer.start() builds `new Server(port)`, which listens on 0.0.0.0, and has no host
 * option. This launcher does the same wiring (RCKUtils' CATALOG_* environment, a JdbcCatalog by
 * default, RESTServerCatalogAdapter behind RESTCatalogServlet) on a connector bound to 127.0.0.1.
 * It sits in the fixture's package because those classes are package-private.
 */
const LAUNCHER = `package org.apache.iceberg.rest;

import java.util.HashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.iceberg.CatalogProperties;
import org.apache.iceberg.CatalogUtil;
import org.apache.iceberg.catalog.Catalog;
import org.apache.iceberg.jdbc.JdbcCatalog;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;

public final class BatonLoopbackCatalogServer {
  public static void main(String[] args) throws Exception {
    Map<String, String> config = new HashMap<>(RCKUtils.environmentCatalogConfig());
    config.putIfAbsent(CatalogProperties.CATALOG_IMPL, JdbcCatalog.class.getName());
    int port = Integer.parseInt(config.getOrDefault("rest.port", "8181"));
    Catalog catalog = CatalogUtil.buildIcebergCatalog("rest_backend", config, new Configuration());
    RESTCatalogAdapter adapter = new RESTServerCatalogAdapter(new RESTCatalogServer.CatalogContext(catalog, config));
    ServletContextHandler context = new ServletContextHandler(ServletContextHandler.NO_SESSIONS);
    context.addServlet(new ServletHolder(new RESTCatalogServlet(adapter)), "/*");
    Server server = new Server();
    ServerConnector connector = new ServerConnector(server);
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    server.addConnector(connector);
    server.setHandler(context);
    server.start();
    System.out.println("baton iceberg REST catalog on 127.0.0.1:" + port);
    server.join();
  }
}
`;

const LAUNCHER_CLASS = "org.apache.iceberg.rest.BatonLoopbackCatalogServer";

export interface IcebergCatalogServer {
  /** `http://127.0.0.1:<port>`: the REST catalog URI. */
  readonly uri: string;
  /** `s3://<bucket>/`: where the catalog puts table data and metadata. */
  readonly warehouse: string;
  /** The S3 server the tables live on. */
  readonly s3: MotoServer;
  /** The environment `@baton/iceberg`'s `icebergCatalog` resource reads (catalog URI, warehouse, S3 endpoint and keys). */
  readonly env: Readonly<Record<string, string>>;
  /** Where the server's own output goes (for a failing test's message). */
  readonly logFile: string;
  stop(): Promise<void>;
}

export interface IcebergCatalogOptions {
  /** The bucket that holds the warehouse; created on `s3` (default "iceberg-warehouse"). */
  readonly bucket?: string;
  /** Java heap for the server (default 512m). */
  readonly heap?: string;
}

function tool(name: string, fix: string): string {
  try {
    execFileSync(name, ["-version"], { stdio: "ignore" });
  } catch (e) {
    throw new Error(`the Iceberg REST catalog test server needs ${name} (${(e as Error).message})\n  fix: ${fix}`, { cause: e });
  }
  return name;
}

/** The resolved classpath plus the compiled launcher, built once per pin set under BATON_VENV_ROOT (or .venvs). */
export function icebergCatalogClasspath(): string {
  const dir = pinnedDir("iceberg-rest", [POM, LAUNCHER]);
  const root = dirname(dir);
  const ready = join(dir, "classpath.txt");
  const read = () => `${join(dir, "classes")}:${readFileSync(ready, "utf8").trim()}`;
  if (existsSync(ready)) return read();
  const java = "java";
  tool(java, "install a Java 17+ runtime and JDK (Debian: apt-get install openjdk-17-jdk-headless)");
  tool("javac", "install a Java 17+ JDK (Debian: apt-get install openjdk-17-jdk-headless)");
  const mvn = process.env.BATON_MVN ?? "mvn";
  tool(mvn, "install Apache Maven (Debian: apt-get install maven) and make sure Maven Central is reachable");
  mkdirSync(root, { recursive: true });
  withFileLock(`${dir}.lock`, { what: `the Iceberg REST catalog classpath ${dir}` }, () => {
    if (existsSync(ready)) return;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, "src", "org", "apache", "iceberg", "rest"), { recursive: true });
    writeFileSync(join(dir, "pom.xml"), POM);
    const repo = process.env.BATON_MAVEN_REPO ? [`-Dmaven.repo.local=${process.env.BATON_MAVEN_REPO}`] : [];
    const cpTmp = join(dir, "classpath.tmp");
    try {
      execFileSync(mvn, ["-q", "-B", "-f", join(dir, "pom.xml"), ...repo, "dependency:build-classpath", `-Dmdep.outputFile=${cpTmp}`], { stdio: ["ignore", "inherit", "inherit"] });
    } catch (e) {
      throw new Error(`Maven could not resolve the Iceberg REST catalog's classpath (${join(dir, "pom.xml")}): ${(e as Error).message}\n  fix: make sure Maven Central is reachable`, { cause: e });
    }
    const source = join(dir, "src", "org", "apache", "iceberg", "rest", "BatonLoopbackCatalogServer.java");
    writeFileSync(source, LAUNCHER);
    execFileSync("javac", ["-d", join(dir, "classes"), "-cp", readFileSync(cpTmp, "utf8").trim(), source], { stdio: ["ignore", "inherit", "inherit"] });
    // the marker last: a resolution interrupted half-way is redone next time
    writeFileSync(ready, readFileSync(cpTmp, "utf8"));
  });
  return read();
}

/**
 * Start the REST catalog on a free loopback port: a SQLite catalog in a temp folder, S3FileIO on the
 * given S3 server (moto in tests), a warehouse bucket created there. It never skips: a machine without
 * Java or Maven fails here with the fix.
 */
export async function startIcebergCatalog(s3: MotoServer, options: IcebergCatalogOptions = {}): Promise<IcebergCatalogServer> {
  const classpath = icebergCatalogClasspath();
  const bucket = options.bucket ?? "iceberg-warehouse";
  await s3.createBucket(bucket);
  const warehouse = `s3://${bucket}/`;
  const port = await freePort();
  const uri = `http://127.0.0.1:${port}`;
  const scratch = mkdtempSync(join(tmpdir(), "baton-iceberg-rest-"));
  const logFile = join(scratch, "server.log");
  const keys = { AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID!, AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY!, AWS_REGION: s3.env.AWS_REGION ?? "us-east-1" };
  const server = await startServerProcess({
    what: "the Iceberg REST catalog",
    command: "java",
    args: [`-Xmx${options.heap ?? "512m"}`, "-cp", classpath, LAUNCHER_CLASS],
    logFile,
    url: uri,
    ready: async () => (await fetch(`${uri}/v1/config`)).ok,
    env: {
      ...process.env,
      ...keys,
      // RCKUtils.environmentCatalogConfig: CATALOG_ prefix dropped, "__" → "-", "_" → "."
      CATALOG_REST_PORT: String(port),
      CATALOG_URI: `jdbc:sqlite:${join(scratch, "catalog.db")}`,
      CATALOG_JDBC_SCHEMA__VERSION: "V1",
      CATALOG_WAREHOUSE: warehouse,
      CATALOG_IO__IMPL: "org.apache.iceberg.aws.s3.S3FileIO",
      CATALOG_S3_ENDPOINT: s3.endpoint,
      CATALOG_S3_PATH__STYLE__ACCESS: "true",
      CATALOG_CLIENT_REGION: keys.AWS_REGION,
    },
  });
  return {
    uri,
    warehouse,
    s3,
    logFile,
    env: {
      ICEBERG_REST_URI: uri,
      ICEBERG_WAREHOUSE: warehouse,
      ICEBERG_S3_ENDPOINT: s3.endpoint,
      ICEBERG_S3_REGION: keys.AWS_REGION,
      ICEBERG_S3_ACCESS_KEY_ID: keys.AWS_ACCESS_KEY_ID,
      ICEBERG_S3_SECRET_ACCESS_KEY: keys.AWS_SECRET_ACCESS_KEY,
    },
    stop: async () => {
      await server.stop();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
