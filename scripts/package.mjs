#!/usr/bin/env node
// npm run package: from a clean checkout (after `npm ci`), on a linux-x64 machine, builds
//   release/labops-<version>-linux-x64   one self-contained executable (Node's single-executable applications:
//                                         this Node, the bundled CLI's modules with their code caches
//                                         (scripts/build.mjs --sea), the SQLite addon inside)
//   release/labops_<version>_amd64.deb   the Debian package around the same bundle, the addon as a file
//   release/labops-<version>-linux-x64.LICENSES
// Neither needs Node on the target. Tools: postject (npm, the Node project's injector), dpkg-deb, dpkg-shlibdeps
// and strip (dpkg-dev, binutils).
//   node scripts/package.mjs [--out DIR] [--work DIR] [--fast] [--no-deb]
// --work keeps the intermediate files there; --fast compresses the .deb at xz -1 (the same files, 15 % larger,
// a fifth of the time: for tests); --no-deb builds the single executable only (npm run bench).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const VERSION = PKG.version;
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const ADDON = 'better_sqlite3.node';
const DEBIAN = join(ROOT, 'packaging', 'debian');
/** The MIT license's terms, below its copyright line (from LICENSE). */
const MIT_TERMS = readFileSync(join(ROOT, 'LICENSE'), 'utf8').replace(/^[\s\S]*?\n(?=Permission is hereby granted)/, '').trim();

const { values: opts } = parseArgs({ options: { out: { type: 'string', default: join(ROOT, 'release') }, work: { type: 'string' }, fast: { type: 'boolean', default: false }, 'no-deb': { type: 'boolean', default: false } } });
const out = resolve(opts.out);
const work = opts.work ? resolve(opts.work) : mkdtempSync(join(tmpdir(), 'labops-package-'));
const started = Date.now();

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}
function step(what) {
  console.error(`package: ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s  ${what}`);
}
/** Runs a tool; its output is shown only when it fails. */
function run(cmd, args, o = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...o });
  if (r.error) fail(`${cmd}: ${r.error.code === 'ENOENT' ? 'not installed' : r.error.message}`);
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} failed (exit ${r.status}):\n${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

// --- what this machine must have -------------------------------------------------------------------------
if (process.platform !== 'linux' || process.arch !== 'x64') fail(`builds linux-x64 executables on linux-x64; this is ${process.platform}-${process.arch}`);
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 12)) fail(`needs Node 20.12 or newer (single-executable code cache and assets); this is ${process.version}`);
const tools = [['strip', 'binutils'], ...(opts['no-deb'] ? [] : [['dpkg-deb', 'dpkg'], ['dpkg-shlibdeps', 'dpkg-dev']])];
for (const [tool, pkg] of tools) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) fail(`${tool} is not installed: apt-get install ${pkg}`);
}
const addonSource = join(ROOT, 'node_modules', 'better-sqlite3', 'build', 'Release', ADDON);
if (!existsSync(addonSource)) fail(`${relative(ROOT, addonSource)} is missing: run npm ci first (it builds better-sqlite3)`);
if (!readFileSync(process.execPath).includes(SEA_FUSE)) fail(`${process.execPath} is a Node without single-executable support`);
let postject;
try {
  postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
} catch {
  fail('postject is not installed: run npm ci first');
}
const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? (spawnSync('git', ['-C', ROOT, 'log', '-1', '--format=%ct'], { encoding: 'utf8' }).stdout.trim() || Math.floor(statSync(join(ROOT, 'package.json')).mtimeMs / 1000)));

mkdirSync(out, { recursive: true });
mkdirSync(work, { recursive: true });

// --- the executable ---------------------------------------------------------------------------------------
step('bundling the CLI (scripts/build.mjs --sea)');
run(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--sea', '--outdir', join(work, 'sea')], { cwd: ROOT });

// every module of the bundle and its code cache, under its id (packaging/sea/loader.cjs)
const moduleDir = join(work, 'sea', 'modules');
const moduleAssets = Object.fromEntries(
  readdirSync(moduleDir, { recursive: true })
    .filter((f) => f.endsWith('.js') || f.endsWith('.js.cache'))
    .map((f) => [f, join(moduleDir, f)]),
);

step('stripping Node and the SQLite addon');
const addon = join(work, ADDON);
copyFileSync(addonSource, addon);
run('strip', ['--strip-unneeded', '--remove-section=.comment', '--remove-section=.note', addon]);
// Node's symbols and debug info go; the blob is injected afterwards.
const runtime = join(work, 'node');
copyFileSync(process.execPath, runtime);
run('strip', ['--strip-all', '--remove-section=.comment', runtime]);

/** One executable: this Node with the bundle, its code cache and the given assets injected. */
function singleExecutable(target, assets) {
  const name = target.replace(/[^a-z0-9]+/gi, '-');
  const config = join(work, `${name}.sea.json`);
  const blob = join(work, `${name}.blob`);
  writeFileSync(config, JSON.stringify({ main: join(work, 'sea', 'loader.cjs'), output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets: { ...moduleAssets, ...assets } }));
  run(process.execPath, ['--experimental-sea-config', config], { cwd: work });
  const tmp = `${target}.tmp`;
  copyFileSync(runtime, tmp);
  // (postject's ELF reader warns about the many notes of some Node builds; the output is shown only on failure)
  run(process.execPath, [postject, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE]);
  chmodSync(tmp, 0o755);
  // the executable must run as built: its version and the embedded store (with the given addon)
  const got = spawnSync(tmp, ['--version'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LABOPS_SEA_CHECK_CACHE: '1' } });
  if (got.stdout.trim() !== VERSION) fail(`${tmp} --version printed '${got.stdout.trim()}', expected ${VERSION}: ${got.stderr}`);
  if (!got.stderr.includes('labops-sea: 0 code caches rejected')) fail(`V8 rejected the code caches built with ${process.execPath}: ${got.stderr.trim()}`);
  renameSync(tmp, target);
}

step('building the single executable (addon embedded)');
const standalone = join(out, `labops-${VERSION}-linux-x64`);
singleExecutable(standalone, { [ADDON]: addon });
const exeSmoke = spawnSync(standalone, ['db', 'migrate', '--db', `sqlite:${join(work, 'smoke.db')}`], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', HOME: work } });
if (exeSmoke.status !== 0) fail(`${standalone} cannot open the embedded SQLite store: ${exeSmoke.stderr.trim()}`);

const licenses = thirdPartyLicenses();
writeFileSync(`${standalone}.LICENSES`, `labops ${VERSION}: MIT\n\n${readFileSync(join(ROOT, 'LICENSE'), 'utf8')}\n${licenses.text}`);
if (opts['no-deb']) {
  step('done');
  console.error(`  ${relative(process.cwd(), standalone)}  ${(statSync(standalone).size / 2 ** 20).toFixed(1)} MiB`);
  if (!opts.work) rmSync(work, { recursive: true, force: true });
  process.exit(0);
}

step('building the Debian package');
const deb = join(work, 'deb');
rmSync(deb, { recursive: true, force: true });
const at = (p) => join(deb, p);
const put = (dest, { from, text, mode = 0o644 }) => {
  mkdirSync(dirname(at(dest)), { recursive: true });
  if (from) copyFileSync(from, at(dest));
  else writeFileSync(at(dest), text);
  chmodSync(at(dest), mode);
};
const gz = (text) => gzipSync(text, { level: 9 }); // gzip -9n: no name, no time stamp

mkdirSync(at('usr/bin'), { recursive: true });
singleExecutable(at('usr/bin/labops'), {});
put(`usr/lib/labops/${ADDON}`, { from: addon });
const units = readdirSync(join(ROOT, 'examples', 'systemd')).filter((f) => /\.(service|timer)$/.test(f)).sort();
for (const u of units) put(`usr/lib/systemd/system/${u}`, { from: join(ROOT, 'examples', 'systemd', u) });
put('usr/lib/sysusers.d/labops.conf', { from: join(DEBIAN, 'labops.sysusers') });
put('usr/lib/tmpfiles.d/labops.conf', { from: join(DEBIAN, 'labops.tmpfiles') });
put('etc/labops/config.json', { from: join(DEBIAN, 'config.json') });
put('etc/logrotate.d/labops', { from: join(DEBIAN, 'labops.logrotate') });
for (const m of readdirSync(join(ROOT, 'man')).filter((f) => f.endsWith('.1'))) put(`usr/share/man/man1/${m}.gz`, { text: gz(readFileSync(join(ROOT, 'man', m))) });
put('usr/share/bash-completion/completions/labops', { from: join(ROOT, 'completions', 'labops.bash') });
put('usr/share/zsh/vendor-completions/_labops', { from: join(ROOT, 'completions', '_labops') });
put('usr/share/fish/vendor_completions.d/labops.fish', { from: join(ROOT, 'completions', 'labops.fish') });
for (const f of readdirSync(join(ROOT, 'examples'), { recursive: true, withFileTypes: true })) {
  if (!f.isFile()) continue;
  const src = join(f.parentPath ?? f.path, f.name);
  const rel = relative(join(ROOT, 'examples'), src);
  // documentation is not executable (lintian); `labops dc setup` installs the hook wrapper itself
  put(`usr/share/doc/labops/examples/${rel}`, { from: src });
}
put('usr/share/doc/labops/copyright', { text: copyright(licenses) });
put('usr/share/doc/labops/THIRD-PARTY-LICENSES.gz', { text: gz(licenses.text) });
put('usr/share/doc/labops/changelog.gz', { text: gz(changelog()) });
put('usr/share/lintian/overrides/labops', { from: join(DEBIAN, 'lintian-overrides') });

const unitList = units.join(' ');
for (const script of ['postinst', 'prerm', 'postrm']) put(`DEBIAN/${script}`, { text: readFileSync(join(DEBIAN, script), 'utf8').replaceAll('@UNITS@', unitList), mode: 0o755 });
put('DEBIAN/conffiles', { from: join(DEBIAN, 'conffiles') });
const conffiles = readFileSync(join(DEBIAN, 'conffiles'), 'utf8').split('\n').filter(Boolean);
for (const c of conffiles) if (!existsSync(at(c.slice(1)))) fail(`conffile ${c} is not in the package`);

step('control files (md5sums, dpkg-shlibdeps)');
const files = walk(deb).filter((p) => !p.startsWith('DEBIAN/'));
const md5sums = files
  .filter((p) => !conffiles.includes(`/${p}`))
  .map((p) => `${createHash('md5').update(readFileSync(at(p))).digest('hex')}  ${p}\n`)
  .join('');
put('DEBIAN/md5sums', { text: md5sums });
put('DEBIAN/control', { text: control(files) });
for (const p of walk(deb, true)) utimesSync(at(p), epoch, epoch);
const debFile = join(out, `labops_${VERSION}_amd64.deb`);
step(`dpkg-deb --build (xz ${opts.fast ? '-1' : '-6'})`);
run('dpkg-deb', ['--root-owner-group', '-Zxz', opts.fast ? '-z1' : '-z6', '--build', deb, debFile], { env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } });

const mib = (p) => `${(statSync(p).size / 2 ** 20).toFixed(1)} MiB`;
step('done');
console.error(`  ${relative(process.cwd(), standalone)}  ${mib(standalone)}`);
console.error(`  ${relative(process.cwd(), debFile)}  ${mib(debFile)} (installed ${Math.round(installedKib(files) / 1024)} MiB)`);
if (!opts.work) rmSync(work, { recursive: true, force: true });

// --- helpers ----------------------------------------------------------------------------------------------
function walk(dir, withDirs = false, prefix = '') {
  const outList = [];
  for (const e of readdirSync(join(dir, prefix), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) {
      outList.push(...walk(dir, withDirs, rel));
      if (withDirs) outList.push(rel);
    } else outList.push(rel);
  }
  return outList;
}

function installedKib(list) {
  return list.reduce((kib, p) => kib + Math.ceil(statSync(at(p)).size / 1024), 0);
}

function control(list) {
  // dpkg-shlibdeps runs where the files are installed and needs a debian/control naming the package
  mkdirSync(at('debian'), { recursive: true });
  writeFileSync(at('debian/control'), 'Source: labops\n\nPackage: labops\nArchitecture: amd64\n');
  const substvars = run('dpkg-shlibdeps', ['-O', '--warnings=0', '-eusr/bin/labops', `-eusr/lib/labops/${ADDON}`], { cwd: deb });
  rmSync(at('debian'), { recursive: true });
  const shlibs = /^shlibs:Depends=(.*)$/m.exec(substvars)?.[1];
  if (!shlibs) fail(`dpkg-shlibdeps found no dependencies: ${substvars}`);
  return readFileSync(join(DEBIAN, 'control'), 'utf8')
    .replace('@VERSION@', VERSION)
    .replace('@MAINTAINER@', maintainer())
    .replace('@INSTALLED_SIZE@', String(installedKib(list)))
    .replace('@SHLIBS_DEPENDS@', shlibs);
}

function maintainer() {
  return process.env.DEB_MAINTAINER ?? 'labops maintainers <labops@lists.example.org>';
}

function changelog() {
  const commit = spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
  const date = new Date(epoch * 1000).toUTCString().replace(/GMT$/, '+0000');
  return `labops (${VERSION}) unstable; urgency=medium\n\n  * labops ${VERSION}${commit ? ` (commit ${commit})` : ''}: the single executable and its Debian package.\n\n -- ${maintainer()}  ${date}\n`;
}

/** The licenses of what the executable carries: Node.js, every npm package in the bundle, better-sqlite3 with SQLite. */
function thirdPartyLicenses() {
  const meta = JSON.parse(readFileSync(join(work, 'sea', 'labops.meta.json'), 'utf8'));
  const dirs = new Set(['node_modules/better-sqlite3']);
  for (const input of Object.keys(meta.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) dirs.add(m[1]);
  }
  const parts = [];
  const names = [];
  for (const dir of [...dirs].sort()) {
    const pkg = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8'));
    const texts = readdirSync(join(ROOT, dir)).filter((f) => /^(licen[cs]e|copying|notice)/i.test(f)).sort();
    let body = texts.map((f) => readFileSync(join(ROOT, dir, f), 'utf8').trim()).join('\n\n');
    if (!body && pkg.license === 'MIT') {
      // a package that declares MIT without shipping the text: the MIT text with its author as the holder
      const author = typeof pkg.author === 'string' ? pkg.author : pkg.author?.name;
      if (!author) fail(`${dir} has no LICENSE file and names no author`);
      body = `(${pkg.name} ships no license file; its package.json declares MIT.)\n\nCopyright (c) ${author}\n\n${MIT_TERMS}`;
    }
    if (!body) fail(`${dir} has no LICENSE file; its license (${pkg.license}) needs its text in the package`);
    names.push(`${pkg.name} ${pkg.version} (${pkg.license})`);
    parts.push(`=== ${pkg.name} ${pkg.version} (${pkg.license}) ===\n\n${body}\n`);
  }
  const nodeLicense = [join(dirname(process.execPath), '..', 'share', 'doc', 'nodejs', 'LICENSE'), join(dirname(process.execPath), '..', 'share', 'doc', 'node', 'LICENSE'), join(dirname(process.execPath), '..', 'LICENSE'), process.env.LABOPS_NODE_LICENSE ?? '']
    .filter(Boolean)
    .find((p) => existsSync(p));
  if (!nodeLicense) fail(`Node's LICENSE was not found beside ${process.execPath}: set LABOPS_NODE_LICENSE to its path`);
  const text = [`=== Node.js ${process.version} ===\n\n${readFileSync(nodeLicense, 'utf8').trim()}\n`, ...parts].join('\n');
  return { text, names };
}

function copyright(licenses) {
  const mit = readFileSync(join(ROOT, 'LICENSE'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => (l.trim() ? ` ${l}` : ' .'))
    .join('\n');
  return `${readFileSync(join(DEBIAN, 'copyright.head'), 'utf8').replace('@NODE_VERSION@', process.version).replace('@YEAR@', String(new Date(epoch * 1000).getUTCFullYear()))}${mit}

Files: usr/bin/labops usr/lib/labops/*
Copyright: the Node.js project and the authors of the bundled packages below
License: bundled
 Node.js ${process.version} and these packages, with the full text of each license, in
 /usr/share/doc/labops/THIRD-PARTY-LICENSES.gz:
${licenses.names.map((n) => ` ${n}`).join('\n')}
`;
}
