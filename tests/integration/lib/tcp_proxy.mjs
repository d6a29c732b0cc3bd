// A switchable TCP proxy: the load balancer in front of several heraldd
// nodes, for the cluster tests (a connection moving to another node).
//
// Each client connection is piped to 127.0.0.1:<target>, the target at the
// moment the client connected. switchTo(port) sends new connections to
// another node and destroys every piped connection (both sockets), as a
// load balancer does when a node dies or it rebalances. hold() stops
// forwarding in one direction (data is kept unread, never delivered: the
// sockets are destroyed at the next switch or drop), so that a client's
// publishes reach the server while their ACKs do not reach the client, or
// the reverse.

import net from 'node:net';

/**
 * @param {number} targetPort first target
 * @returns {Promise<{port:number, target:number, connections:number, accepted:number,
 *   switchTo:Function, dropAll:Function, hold:Function, close:Function}>}
 */
export async function startSwitchProxy(targetPort) {
  const pairs = new Set();
  let target = targetPort;
  let accepted = 0;
  const held = { down: false, up: false }; // down: server -> client; up: client -> server
  const quietly = (s) => s.on('error', () => {});

  function applyHold(pair) {
    const { downstream, upstream } = pair;
    if (held.down && !pair.heldDown) {
      pair.heldDown = true;
      upstream.unpipe(downstream);
      upstream.pause();
    }
    if (held.up && !pair.heldUp) {
      pair.heldUp = true;
      downstream.unpipe(upstream);
      downstream.pause();
    }
  }

  const server = net.createServer((downstream) => {
    accepted += 1;
    quietly(downstream);
    const upstream = net.connect(target, '127.0.0.1');
    quietly(upstream);
    const pair = { downstream, upstream, heldDown: false, heldUp: false, target };
    pairs.add(pair);
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    applyHold(pair);
    const gone = () => {
      pairs.delete(pair);
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('close', gone);
    upstream.on('close', gone);
    // a half-closed side (the node died, or the client ended) ends the pair
    downstream.on('end', gone);
    upstream.on('end', gone);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

  function dropAll() {
    held.down = false;
    held.up = false;
    for (const { downstream, upstream } of [...pairs]) {
      downstream.destroy();
      upstream.destroy();
    }
    pairs.clear();
  }

  return {
    port: server.address().port,
    get target() { return target; },
    /** Connections currently piped. */
    get connections() { return pairs.size; },
    /** Client connections accepted so far. */
    get accepted() { return accepted; },
    /** New connections go to `port`; every current one is destroyed (unless drop is false). */
    switchTo(port, { drop = true } = {}) {
      target = port;
      if (drop) dropAll();
    },
    dropAll,
    /**
     * Stops forwarding: `down` = what servers send to clients, `up` = what
     * clients send. Applies to current and new connections until the next
     * switch or drop; hold({}) forwards again (held data included).
     */
    hold({ down = false, up = false } = {}) {
      held.down = down;
      held.up = up;
      for (const pair of pairs) {
        applyHold(pair);
        if (!down && pair.heldDown) {
          pair.heldDown = false;
          pair.upstream.pipe(pair.downstream);
          pair.upstream.resume();
        }
        if (!up && pair.heldUp) {
          pair.heldUp = false;
          pair.downstream.pipe(pair.upstream);
          pair.downstream.resume();
        }
      }
    },
    close() {
      dropAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
