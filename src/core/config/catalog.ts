// The host catalog the ops-worker builds from two files (reference HEAD-API §6.1): the base inventory
// (OPS_CONFIG) and its writable catalog (OPS_DYNAMIC_CONFIG, where the Lab Manager UI's provisioning wrote
// hosts), merged by lower-cased name. A dynamic entry replaces the base entry whole; base order first, then the
// hosts only the dynamic file has. labops reads the dynamic file and never writes it; absent is fine.
import { existsSync } from 'node:fs';
import { loadInventory, type Inventory } from './inventory.js';

export function mergeInventories(base: Inventory, dynamic: Inventory): Inventory {
  const byName = new Map(dynamic.hosts.map((h) => [h.name.toLowerCase(), h]));
  const hosts = base.hosts.map((h) => {
    const d = byName.get(h.name.toLowerCase());
    byName.delete(h.name.toLowerCase());
    return d ?? h;
  });
  return { file: base.file ?? dynamic.file, hosts: [...hosts, ...byName.values()], warnings: [...base.warnings, ...dynamic.warnings] };
}

/** The inventory, with the dynamic catalog merged over it when one is configured and present. */
export function loadCatalog(path: string, explicit: boolean, dynamicPath?: string): Inventory {
  const base = loadInventory(path, explicit);
  if (!dynamicPath || !existsSync(dynamicPath)) return base;
  return mergeInventories(base, loadInventory(dynamicPath, true));
}
