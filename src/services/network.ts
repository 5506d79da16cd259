// network detect: this host's addresses, routes and DNS as the deploy environment will use them.

import {gatherNetworkCaptures} from '../adapters/host-network.js';
import {checkNetworkUsable, parseNetwork, type NetworkConfig} from '../core/network.js';

/** The network read from this host and why it could not carry a deploy (empty when it can). */
export async function detectHostNetwork(): Promise<{network: NetworkConfig; problems: string[]}> {
  const network = parseNetwork(await gatherNetworkCaptures());
  return {network, problems: checkNetworkUsable(network)};
}
