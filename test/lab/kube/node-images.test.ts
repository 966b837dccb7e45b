import { parseImageList } from './node-images.js';

describe('parseImageList (build-images.sh output)', () => {
  it('reads one reference and tarball per line, ignoring blank lines and surrounding spaces', () => {
    expect(parseImageList('k8s.gcr.io/pause:3.2 /var/cache/weft/images/pause.tar\n\n  ghcr.io/weft-net/weft:0.1.0   /x/weft.tar  \n')).toEqual([
      { reference: 'k8s.gcr.io/pause:3.2', path: '/var/cache/weft/images/pause.tar' },
      { reference: 'ghcr.io/weft-net/weft:0.1.0', path: '/x/weft.tar' },
    ]);
  });

  it.each(['k8s.gcr.io/pause:3.2', 'a b c'])('rejects the malformed line %j and names the expected format', (line) => {
    expect(() => parseImageList(line)).toThrow('expected "<reference> <tarball path>"');
  });
});
