// School-dependent names (NOTES §4.1): non-default schools keep `<school>.devices.csv`, and linuxmuster
// prefixes their host names with `<school>-` in DHCP and AD. The worker got both wrong.

export const DEFAULT_SCHOOL = 'default-school';

/**
 * Why a school name is refused, or undefined when it is fine. A school names directories and files
 * (/etc/linuxmuster/sophomorix/<school>/, /etc/dhcp/devices/<school>.conf), so a path separator, `..` or a
 * leading dash would reach outside them or into an option: letters, digits, `-` and `_` only, as sophomorix's.
 */
export function schoolNameProblem(school: string): string | undefined {
  if (/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/.test(school)) return undefined;
  return `invalid school ${JSON.stringify(school)}: a school name is 1-64 letters, digits, '-' or '_' (it names directories and files)`;
}

export function isDefaultSchool(school: string): boolean {
  return school === DEFAULT_SCHOOL;
}

/** Replaces every `{school}` placeholder. */
export function fillSchool(template: string, school: string): string {
  return template.split('{school}').join(school);
}

/** The master devices.csv of a school under the sophomorix directory. */
export function devicesCsvPath(school: string, sophomorixDir = '/etc/linuxmuster/sophomorix'): string {
  return isDefaultSchool(school) ? `${sophomorixDir}/${school}/devices.csv` : `${sophomorixDir}/${school}/${school}.devices.csv`;
}

/**
 * Fixes a master path made from the worker's default template (`…/{school}/devices.csv`) for a
 * non-default school, where the file is `<school>.devices.csv`. Other paths are returned unchanged.
 */
export function fixMasterPath(path: string, school: string): string {
  if (isDefaultSchool(school)) return path;
  const suffix = `/${school}/devices.csv`;
  return path.endsWith(suffix) ? `${path.slice(0, -'devices.csv'.length)}${school}.devices.csv` : path;
}

/** The host name as it appears in DHCP and AD. */
export function qualifiedHostname(school: string, host: string): string {
  return isDefaultSchool(school) ? host : `${school}-${host}`;
}

/** NetBIOS-safe host name rule used by the worker and the API (NOTES §2.4). */
export function checkHostname(h: string): string | undefined {
  if (!h) return 'Hostname is empty';
  if (h.length > 15) return `Hostname '${h}' exceeds NetBIOS 15-char limit`;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9-]*$/.test(h)) return `Invalid hostname format: '${h}'`;
  return undefined;
}
