/**
 * Semantic-version order, as the server sorts versions (`semver` on the Python side), for the
 * one decision the panel makes itself: whether the catalog has a newer version than the active
 * one.
 */

const SEMVER =
  /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$/;

interface IParsed {
  core: [number, number, number];
  prerelease: string[];
}

function parse(version: string): IParsed | null {
  const match = SEMVER.exec(version.trim());
  if (!match) {
    return null;
  }
  return {
    core: [Number(match[1]), Number(match[2]), Number(match[3])],
    prerelease: match[4] ? match[4].split('.') : []
  };
}

function compareIdentifiers(a: string, b: string): number {
  const numeric = /^\d+$/;
  const aNum = numeric.test(a);
  const bNum = numeric.test(b);
  if (aNum && bNum) {
    return Math.sign(Number(a) - Number(b));
  }
  if (aNum !== bNum) {
    // Numeric identifiers have lower precedence than alphanumeric ones.
    return aNum ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compare two semantic versions: negative when `a` is older, positive when newer, 0 when
 * equal or when either is not a semantic version (then no order is claimed).
 */
export function compareVersions(a: string, b: string): number {
  const pa = parse(a);
  const pb = parse(b);
  if (!pa || !pb) {
    return 0;
  }
  for (let i = 0; i < 3; i++) {
    if (pa.core[i] !== pb.core[i]) {
      return Math.sign(pa.core[i] - pb.core[i]);
    }
  }
  // A pre-release is older than its release: 1.0.0-rc.1 < 1.0.0.
  if (!pa.prerelease.length || !pb.prerelease.length) {
    if (pa.prerelease.length === pb.prerelease.length) {
      return 0;
    }
    return pa.prerelease.length ? -1 : 1;
  }
  const n = Math.max(pa.prerelease.length, pb.prerelease.length);
  for (let i = 0; i < n; i++) {
    if (i >= pa.prerelease.length) {
      return -1;
    }
    if (i >= pb.prerelease.length) {
      return 1;
    }
    const c = compareIdentifiers(pa.prerelease[i], pb.prerelease[i]);
    if (c) {
      return c;
    }
  }
  return 0;
}

/** `latest` when it is newer than `current`, else null (also when either is missing). */
export function newerVersion(
  latest: string | null | undefined,
  current: string | null | undefined
): string | null {
  if (!latest || !current) {
    return null;
  }
  return compareVersions(latest, current) > 0 ? latest : null;
}
