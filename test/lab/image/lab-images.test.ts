import { parseImageLines } from './lab-images.js';

describe('parseImageLines', () => {
  test('reads one reference and absolute tarball per line', () => {
    expect(parseImageLines('k8s.gcr.io/pause:3.2 /c/pause.1.tar\ndocker.io/library/busybox:1.29 /c/busybox.2.tar\n')).toEqual([
      { reference: 'k8s.gcr.io/pause:3.2', tarball: '/c/pause.1.tar' },
      { reference: 'docker.io/library/busybox:1.29', tarball: '/c/busybox.2.tar' },
    ]);
    expect(parseImageLines('')).toEqual([]);
  });

  test.each([
    ['no path', 'k8s.gcr.io/pause:3.2\n'],
    ['relative path', 'k8s.gcr.io/pause:3.2 pause.tar\n'],
    ['extra field', 'k8s.gcr.io/pause:3.2 /c/pause.tar extra\n'],
  ])('rejects a line with %s', (_why, stdout) => {
    expect(() => parseImageLines(stdout)).toThrow(/expected '<reference> <absolute tarball path>'/);
  });
});
