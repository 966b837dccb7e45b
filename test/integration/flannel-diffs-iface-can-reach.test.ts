// --iface-can-reach against a real kernel: flannel publishes the route's preferred source address
// (what `ip route get` prints as src), not the interface's first address. A node namespace gets two
// addresses on its underlay link and a route whose src is the second one; RtNetlink.routeTo (the
// verb chooseExternalInterface uses) must report that interface and that source, as `ip route get` does.
import { fileURLToPath } from 'node:url';
import { NetnsScope } from '../lab/netns.js';

const T = 30_000;
const RTNETLINK = fileURLToPath(new URL('../../backends/rtnetlink.js', import.meta.url));
const IP_ADDRESS = fileURLToPath(new URL('../../subnet/ip-address.js', import.meta.url));

let scope: NetnsScope;
let ns: string;

beforeAll(async () => {
  scope = new NetnsScope();
  ns = await scope.createNamespace('reach');
  await scope.ipBatch(ns, [
    'link add u0 type veth peer name u0p',
    'addr add 198.51.100.7/24 dev u0',
    'addr add 198.51.100.8/24 dev u0',
    'link set u0 up',
    'link set u0p up',
    'route add 192.0.2.0/24 dev u0 src 198.51.100.8',
  ]);
}, T);

afterAll(async () => {
  await scope.dispose();
}, T);

it('reports the route\'s interface and preferred source, as `ip route get` does', async () => {
  const ipRouteGet = (await scope.exec(ns, 'ip', ['-j', 'route', 'get', '192.0.2.50'])).stdout;
  const kernel = (JSON.parse(ipRouteGet) as { dev: string; prefsrc: string }[])[0];
  expect(kernel).toMatchObject({ dev: 'u0', prefsrc: '198.51.100.8' });

  const script = `
    const { RtNetlink } = await import(${JSON.stringify(RTNETLINK)});
    const { IpAddress } = await import(${JSON.stringify(IP_ADDRESS)});
    const netlink = RtNetlink.open();
    const route = await netlink.routeTo(IpAddress.parse('192.0.2.50', 'ipv4'));
    const link = (await netlink.listLinks()).find((l) => l.index === route.index);
    process.stdout.write(JSON.stringify({ dev: link.name, source: route.source.toString() }));
    netlink.close();`;
  const out = (await scope.exec(ns, process.execPath, ['--input-type=module', '-e', script])).stdout;
  expect(JSON.parse(out)).toEqual({ dev: 'u0', source: '198.51.100.8' }); // not 198.51.100.7, the first address
}, T);
