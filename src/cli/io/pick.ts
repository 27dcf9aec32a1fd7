// Pickers for a terminal, built on Inquirer's prompt core: a multi-select that filters as you type (500
// hosts are no list to scroll), and a single select with search. Loaded only when a command asks.
import { createPrompt, isDownKey, isEnterKey, isSpaceKey, isUpKey, makeTheme, useKeypress, useMemo, usePagination, usePrefix, useState } from '@inquirer/core';
import type { IOStreams } from './iostreams.js';

export interface Choice {
  value: string;
  /** what is matched and shown, default the value */
  name?: string;
  description?: string;
}

interface PickManyConfig {
  message: string;
  choices: readonly Choice[];
  pageSize?: number;
}

const label = (c: Choice) => c.name ?? c.value;

/** Typed text filters (substring, any case), space toggles, ctrl-a toggles everything shown, enter confirms. */
const filterCheckbox = createPrompt<string[], PickManyConfig>((config, done) => {
  const theme = makeTheme({});
  const [status, setStatus] = useState<'idle' | 'done'>('idle');
  const [filter, setFilter] = useState('');
  const [chosen, setChosen] = useState<readonly string[]>([]);
  const [active, setActive] = useState(0);
  const [error, setError] = useState<string | undefined>(undefined);
  const prefix = usePrefix({ status, theme });
  const shown = useMemo(() => config.choices.filter((c) => label(c).toLowerCase().includes(filter.toLowerCase())), [filter]);
  const toggle = (values: readonly string[]) => {
    const all = values.every((v) => chosen.includes(v));
    setChosen(all ? chosen.filter((v) => !values.includes(v)) : [...new Set([...chosen, ...values])]);
  };
  useKeypress((key, rl) => {
    setError(undefined);
    if (isEnterKey(key)) {
      if (chosen.length === 0) return setError('choose at least one (space)');
      setStatus('done');
      return done([...chosen]);
    }
    if (isUpKey(key) || isDownKey(key)) {
      rl.clearLine(0);
      rl.write(filter);
      if (shown.length) setActive((active + (isUpKey(key) ? shown.length - 1 : 1)) % shown.length);
      return;
    }
    if (isSpaceKey(key) || (key.ctrl && key.name === 'a')) {
      // the space (or ctrl-a) is a command, not part of the filter
      rl.clearLine(0);
      rl.write(filter);
      if (key.ctrl) toggle(shown.map((c) => c.value));
      else if (shown[active]) toggle([shown[active].value]);
      return;
    }
    setFilter(rl.line);
    setActive(0);
  });
  const message = theme.style.message(config.message, status);
  if (status === 'done') return `${prefix} ${message} ${theme.style.answer(chosen.join(', '))}`;
  const page = usePagination({
    items: shown,
    active,
    pageSize: config.pageSize ?? 10,
    loop: false,
    renderItem: ({ item, isActive }) => `${isActive ? '❯' : ' '} ${chosen.includes(item.value) ? '◉' : '◯'} ${label(item)}${item.description ? theme.style.help(`  ${item.description}`) : ''}`,
  });
  const help = theme.style.help(`${chosen.length} chosen, ${shown.length}/${config.choices.length} shown · type to filter · space choose · ctrl-a all shown · enter done`);
  return `${prefix} ${message} ${filter}\n${shown.length ? page : theme.style.error('  nothing matches')}\n${error ? theme.style.error(error) : help}`;
});

export function pickMany(io: IOStreams, config: PickManyConfig): Promise<string[]> {
  return filterCheckbox(config, { input: io.stdin, output: io.stdout });
}

/** One of the choices, searched by what is typed. */
export async function pickOne(io: IOStreams, message: string, choices: readonly Choice[]): Promise<string> {
  const { search } = await import('@inquirer/prompts');
  return search(
    {
      message,
      source: (term) => {
        const t = (term ?? '').toLowerCase();
        return choices.filter((c) => label(c).toLowerCase().includes(t)).map((c) => ({ value: c.value, name: label(c), description: c.description }));
      },
    },
    { input: io.stdin, output: io.stdout },
  );
}
