// Which inventory hosts a fleet command means: named ones (case-insensitive) or all of them.
import { UsageError } from '../domain/errors.js';
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
    if (!h) throw new UsageError(`unknown host '${n}'`, { suggestion: index.inventory.file ? `hosts come from ${index.inventory.file}` : 'pass --hosts <file> or set OPS_CONFIG' });
    return h;
  });
}
