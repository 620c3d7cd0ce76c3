/** Injection token of the gateway's runtime options. */
export const GATEWAY_OPTIONS = Symbol('GATEWAY_OPTIONS');

export interface GatewayOptions {
  metricsToken?: string | undefined;
  /**
   * Whether /metrics answers on the public port without a token. False in production, where
   * metrics are scraped from ADMIN_PORT or with METRICS_TOKEN, so the public listener never
   * shows them to anyone.
   */
  openMetrics: boolean;
}

/** Injection token of the gateway's SqlClient (Postgres or embedded PGlite); undefined in unit tests. */
export const SQL_CLIENT = Symbol('SQL_CLIENT');
