import { compareVersions, newerVersion } from '../src/versions';

describe('compareVersions', () => {
  it.each([
    ['1.0.0', '1.0.0', 0],
    ['1.1.0', '1.0.0', 1],
    ['1.0.0', '1.1.0', -1],
    ['1.10.0', '1.9.0', 1],
    ['2.0.0', '1.99.99', 1],
    ['1.0.0-rc.1', '1.0.0', -1],
    ['1.0.0', '1.0.0-rc.1', 1],
    ['1.0.0-alpha', '1.0.0-alpha.1', -1],
    ['1.0.0-alpha.2', '1.0.0-alpha.10', -1],
    ['1.0.0-beta', '1.0.0-alpha.9', 1],
    ['1.0.0-1', '1.0.0-alpha', -1],
    ['1.0.0+build.5', '1.0.0', 0],
    ['not-a-version', '1.0.0', 0]
  ])('%s vs %s is %d', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });
});

describe('newerVersion', () => {
  it('answers the latest version only when it is newer than the current one', () => {
    expect(newerVersion('1.1.0', '1.0.0')).toBe('1.1.0');
    expect(newerVersion('1.0.0', '1.0.0')).toBeNull();
    expect(newerVersion('1.0.0', '1.1.0')).toBeNull();
    expect(newerVersion(undefined, '1.0.0')).toBeNull();
    expect(newerVersion('1.1.0', null)).toBeNull();
  });
});
