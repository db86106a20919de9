import { describe, expect, it } from 'vitest';
import { parseDotEnv } from './dotenv.ts';

describe('parseDotEnv', () => {
  it('reads plain, quoted and commented lines', () => {
    expect(
      parseDotEnv(
        [
          '# a comment',
          'PLAIN=value',
          'SPACED = spaced value  ',
          'export EXPORTED=1',
          'CHANNEL=#alerts',
          'COMMENTED=value # a comment',
          "SINGLE='a # b \\n'",
          'DOUBLE="line\\nnext \\"quoted\\""',
          'MULTI="one',
          'two"',
          'EMPTY=',
          'not a line',
        ].join('\n'),
      ),
    ).toEqual({
      PLAIN: 'value',
      SPACED: 'spaced value',
      EXPORTED: '1',
      CHANNEL: '#alerts',
      COMMENTED: 'value',
      SINGLE: 'a # b \\n',
      DOUBLE: 'line\nnext "quoted"',
      MULTI: 'one\ntwo',
      EMPTY: '',
    });
  });
});
