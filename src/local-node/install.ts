import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { LocalNodeError } from './errors.js';
import { CASSANDRA_VERSION, cacheDir } from './paths.js';

const MIN_JAVA = 17;

const INSTALL_HINT =
  'To fix: install Java 17 and Maven (Debian/Ubuntu: `apt-get install openjdk-17-jre-headless maven`; ' +
  'macOS: `brew install openjdk@17 maven`), or use an existing Cassandra cluster instead ' +
  'with `--contact-points host[:port]`.';

interface RunResult { code: number | null; stdout: string; stderr: string; error?: NodeJS.ErrnoException }

function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let child;
    try {
      child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      resolve({ code: null, stdout, stderr, error: error as NodeJS.ErrnoException });
      return;
    }
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', (error: NodeJS.ErrnoException) => resolve({ code: null, stdout, stderr, error }));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** JAVA_HOME wins over PATH, as with Cassandra's own scripts. */
export function javaCommand(env: NodeJS.ProcessEnv = process.env): string {
  return env.JAVA_HOME ? path.join(env.JAVA_HOME, 'bin', 'java') : 'java';
}

/** Parses `java -version` output ("1.8.0_392", "17.0.15", "21") into a major version. */
export function parseJavaMajor(versionOutput: string): number | undefined {
  const m = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (!m) return undefined;
  const first = Number(m[1]);
  return first === 1 && m[2] ? Number(m[2]) : first;
}

let javaChecked: Promise<string> | undefined;

/** Resolves to the java command to use, or throws a LocalNodeError saying what to install. */
export function checkJava(log?: (line: string) => void): Promise<string> {
  javaChecked ??= (async () => {
    const java = javaCommand();
    const r = await run(java, ['-version']);
    if (r.error || r.code !== 0) {
      throw new LocalNodeError(
        `A local Cassandra node needs Java ${MIN_JAVA}+ (\`${java}\` was not found or did not run). ${INSTALL_HINT}`);
    }
    const major = parseJavaMajor(r.stderr + r.stdout);
    if (major === undefined || major < MIN_JAVA) {
      throw new LocalNodeError(
        `A local Cassandra node needs Java ${MIN_JAVA}+, but \`${java}\` is version ${major ?? 'unknown'}. ${INSTALL_HINT}`);
    }
    // Cassandra 5.0 is only supported on 11 and 17; newer JVMs may fail, so say so up front.
    if (major > MIN_JAVA) log?.(`warning: Java ${major} found; Cassandra ${CASSANDRA_VERSION} is supported on Java 17`);
    return java;
  })();
  // A failed check should be retried next time (the user may have installed Java meanwhile).
  javaChecked.catch(() => { javaChecked = undefined; });
  return javaChecked;
}

function pomXml(version: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.dynamo-cassandra</groupId>
  <artifactId>cassandra-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.cassandra</groupId>
      <artifactId>cassandra-all</artifactId>
      <version>${version}</version>
    </dependency>
  </dependencies>
</project>
`;
}

async function exists(p: string): Promise<boolean> {
  try { await fs.access(p); return true; } catch { return false; }
}

/** The install is complete iff its final directory exists: it only ever appears by rename. */
export function installDir(version = CASSANDRA_VERSION): string {
  return path.join(cacheDir(), 'cassandra', version);
}

/**
 * Returns the directory holding Cassandra's jars (use `<dir>/*` as the classpath). The first call on
 * a machine fetches them with Maven into a temporary directory that is then renamed into place, so a
 * crashed install leaves nothing half-done and two concurrent installs both succeed (first rename wins).
 */
export async function ensureCassandra(log?: (line: string) => void): Promise<string> {
  const finalDir = installDir();
  const libDir = path.join(finalDir, 'lib');
  if (await exists(libDir)) return libDir;

  await checkJava(log);
  const mvn = await run('mvn', ['-v']);
  if (mvn.error || mvn.code !== 0) {
    throw new LocalNodeError(
      `Installing Cassandra ${CASSANDRA_VERSION} (once, into ${path.dirname(finalDir)}) needs Maven (\`mvn\` was not found). ${INSTALL_HINT}`);
  }

  const parent = path.dirname(finalDir);
  await fs.mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.${CASSANDRA_VERSION}.installing-${process.pid}-${randomBytes(4).toString('hex')}`);
  await fs.mkdir(tmp);
  const started = Date.now();
  log?.(`Installing Cassandra ${CASSANDRA_VERSION} into ${finalDir} (one time; uses Maven)...`);
  try {
    await fs.writeFile(path.join(tmp, 'pom.xml'), pomXml(CASSANDRA_VERSION));
    const r = await run('mvn', [
      '-q', '-B', '-f', path.join(tmp, 'pom.xml'),
      'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${path.join(tmp, 'lib')}`,
    ], { cwd: tmp });
    if (r.code !== 0) {
      const tail = (r.stdout + r.stderr).trim().split('\n').slice(-20).join('\n');
      throw new LocalNodeError(
        `Maven could not fetch Cassandra ${CASSANDRA_VERSION} (exit ${r.code}); check network access to Maven Central.\n${tail}`);
    }
    const jars = (await fs.readdir(path.join(tmp, 'lib'))).filter((f) => f.endsWith('.jar'));
    if (!jars.some((f) => f.startsWith('cassandra-all-'))) {
      throw new LocalNodeError(`Maven finished but cassandra-all-${CASSANDRA_VERSION}.jar is missing from ${tmp}/lib`);
    }
    try {
      await fs.rename(tmp, finalDir);
    } catch (error) {
      // Another process finished first: its copy is as good as ours.
      const code = (error as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !(await exists(libDir))) throw error;
    }
    log?.(`Installed Cassandra ${CASSANDRA_VERSION} (${jars.length} jars) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return libDir;
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
