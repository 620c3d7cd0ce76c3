/** Injection token of the gateway's runtime options. */
export const GATEWAY_OPTIONS = Symbol('GATEWAY_OPTIONS');

export interface GatewayOptions {
  metricsToken?: string | undefined;
}
