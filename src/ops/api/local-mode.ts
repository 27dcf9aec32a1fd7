// Local mode from the Gateway (reference NOTES §3.6): the station's local-mode.flag is written with Set-Content
// (content `1`, UTF-8) or removed when present, exactly the PowerShell the ops-worker runs, the path a
// single-quoted literal. Lab Station 3.2.0 also honours the flag in its legacy data folder, so switching local
// mode off removes that copy too when the host uses the default path (the ops-worker left it, and local mode on).
import { DEFAULT_LOCAL_MODE_FLAG_PATH } from '../../core/config/inventory.js';
import { psLiteral } from '../../core/winrm/powershell.js';

export const LEGACY_LOCAL_MODE_FLAG_PATH = 'C:\\LabStation\\data\\local-mode.flag';

export function localModeScript(path: string | undefined, enabled: boolean): string {
  const flag = path ?? DEFAULT_LOCAL_MODE_FLAG_PATH;
  const lines = ["$ErrorActionPreference = 'Stop'"];
  if (enabled) lines.push(`Set-Content -LiteralPath ${psLiteral(flag)} -Value '1' -Encoding UTF8`);
  else {
    const paths = flag.toLowerCase() === DEFAULT_LOCAL_MODE_FLAG_PATH.toLowerCase() ? [flag, LEGACY_LOCAL_MODE_FLAG_PATH] : [flag];
    for (const p of paths) lines.push(`if (Test-Path -LiteralPath ${psLiteral(p)}) { Remove-Item -LiteralPath ${psLiteral(p)} -Force }`);
  }
  return `${lines.join('\n')}\n`;
}
