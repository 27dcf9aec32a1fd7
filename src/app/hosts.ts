// Which inventory hosts a fleet command means: named ones (case-insensitive) or all of them.
import { UsageError } from '../domain/errors.js';
import { didYouMean, someNames } from '../domain/closest-name.js';
import type { HostIndex, InventoryHost } from '../core/config/inventory.js';

/** Hosts by name, or every host that is not quarantined; an unknown name is a usage error naming the inventory. */
export function selectHosts(index: HostIndex, names: readonly string[], all: boolean): InventoryHost[] {
  if (all && names.length) throw new UsageError('give host names or --all, not both');
  if (all) return index.hosts.filter((h) => !h.quarantined);
  if (!names.length) {
    const e = new UsageError('no host: name hosts or use --all');
    e.showUsage = true;
    throw e;
  }
  return names.map((n) => {
    const h = index.find(n);
    if (!h) throw new UsageError(`unknown host '${n}'${didYouMean(n, index.hosts.map((x) => x.name))}`, { suggestion: inventoryHint(index) });
    return h;
  });
}

/** Where the host names come from, and a few of them. */
export function inventoryHint(index: HostIndex): string {
  const names = someNames(index.hosts.map((h) => h.name));
  return index.inventory.file ? `hosts come from ${index.inventory.file} (${names})` : 'pass --hosts <file> or set OPS_CONFIG';
}
