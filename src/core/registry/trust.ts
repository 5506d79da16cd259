// Whether a registry URL may be trusted as given: a registry decides what is written to
// disks (desired deployments carry the URLs and sha256 of what is installed), so over
// plain HTTP anyone on the path could choose it. Loopback is this machine; anything else
// needs TLS, or the operator's explicit word that the network is theirs alone.

export interface TrustChoice {
  pin?: string;
  ca?: string;
  insecure?: boolean;
}

export const isLoopbackHost = (host: string) => host === 'localhost' || host === '[::1]' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);

/** What is wrong with reaching this registry this way, with what to do instead; undefined when nothing is. */
export function registryUrlProblem(url: string, trust: TrustChoice, allowFlag: string): {code: string; message: string; hint: string} | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return {code: 'registry-url', message: `${url} is not a URL.`, hint: 'Name the registry like https://registry.example.net:8443.'};
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return {code: 'registry-url', message: `${url} is not an http(s) URL.`, hint: 'Name the registry like https://registry.example.net:8443.'};
  if (u.protocol === 'http:' && (trust.pin || trust.ca)) return {code: 'registry-url', message: `A fingerprint or CA is given for ${url}, which is plain HTTP.`, hint: 'Use the https:// URL of the registry.'};
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname) && !trust.insecure) {
    return {
      code: 'registry-insecure',
      message: `The registry ${url} is reached over plain HTTP: anyone on the way could answer in its place and choose what is written to the disk.`,
      hint: `Serve it over TLS (anemos serve --tls auto prints the fingerprint to pin) and use https:// with that fingerprint; or, on a network that is yours alone, allow it with ${allowFlag}.`,
    };
  }
  return undefined;
}
