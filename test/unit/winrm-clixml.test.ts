// CLIXML stderr -> plain text (NOTES §1.11).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clixmlToText } from '../../src/core/winrm/clixml.js';

// pywinrm's get_ps_output_response fixture, after concatenating its two stderr chunks
const PYWINRM_FIXTURE =
  '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">Write-Error "Error" : Error_x000D__x000A_</S><S S="Error">    + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorExcep _x000D__x000A_</S><S S="Error">   tion_x000D__x000A_</S><S S="Error">    + FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorExceptio _x000D__x000A_</S><S S="Error">   n_x000D__x000A_</S><S S="Error"> _x000D__x000A_</S></Objs>';

test('pywinrm fixture cleans to the expected text', () => {
  assert.equal(
    clixmlToText(PYWINRM_FIXTURE),
    'Write-Error "Error" : Error\n    + CategoryInfo          : NotSpecified: (:) [Write-Error], WriteErrorExcep \n   tion\n    + FullyQualifiedErrorId : Microsoft.PowerShell.Commands.WriteErrorExceptio \n   n',
  );
});

const PROGRESS =
  '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj S="progress" RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first use.</AV><S N="x">y</S></PR></MS></Obj></Objs>';

test('progress records are dropped next to an error; progress-only output is passed through as text, not dropped', () => {
  assert.equal(clixmlToText(PROGRESS), PROGRESS);
  const withError = PROGRESS.replace('</Objs>', '<S S="Error">boom_x000D__x000A_</S></Objs>');
  assert.equal(clixmlToText(withError), 'boom');
});

test('stderr that is not valid CLIXML is passed through as text, never an empty string', () => {
  const truncated = PYWINRM_FIXTURE.slice(0, 120);
  assert.equal(clixmlToText(truncated), truncated);
  const noEnd = PYWINRM_FIXTURE.replace('</Objs>', '');
  assert.equal(clixmlToText(noEnd), noEnd);
  const malformed = PYWINRM_FIXTURE.replace('<S S="Error">   tion', '<S S="Error"><b>   tion');
  assert.equal(clixmlToText(malformed), malformed);
  // a valid document keeps its text; a broken one after it is kept as it came
  assert.equal(clixmlToText(`${PYWINRM_FIXTURE.replace(/<S S="Error"> {4}\+[\s\S]*<\/Objs>/, '</Objs>')}${truncated}`), `Write-Error "Error" : Error\n${truncated}`);
});

test('several concatenated documents, entities and every _xHHHH_ escape', () => {
  const doc = (s: string) => `#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S S="Error">${s}</S></Objs>`;
  assert.equal(clixmlToText(doc('a &lt;b&gt; &amp; _x0022_q_x0022__x000A_') + doc('Gr_x00FC__x00DF_e')), 'a <b> & "q"\nGrüße');
});

test('plain stderr is returned unchanged', () => {
  assert.equal(clixmlToText('just an error\r\n'), 'just an error\r\n');
});
