import { describe, expect, it } from 'vitest';
import { isValidHost } from './host-header.js';

describe('isValidHost', () => {
  it.each([
    'a',
    'example.org',
    'EHR.Example.ORG:8080',
    'legacy-ehr_01.internal.',
    'xn--bcher-kva.example',
    '127.0.0.1',
    '127.0.0.1:65535',
    'a:0',
    'a:00080',
    'a:',
    '[::1]',
    '[::1]:8080',
    '[2001:db8::7]',
    '[::ffff:192.0.2.1]:443',
    '[v1.fe80::a+en1]',
    '%41b',
    "a!$&'()*+,;=~",
  ])('takes %j', (host) => expect(isValidHost(host)).toBe(true));

  it.each([
    '',
    ':80',
    'a/b',
    'a b',
    'a\tb',
    'u@a',
    'a\\b',
    'a:abc',
    'a:99999',
    'a:65536',
    'a:-1',
    'a:80:80',
    'a?b',
    'a#b',
    '%4',
    '%zz',
    'é.example',
    '[::1',
    '::1',
    '[::1]x',
    '[a/b]',
    'a"b',
    'a<b>',
  ])('refuses %j', (host) => expect(isValidHost(host)).toBe(false));
});
