/** One plausible transaction for the demo fraud model: its 15 features, in the model's order. */
export const DEMO_TRANSACTION = [84.5, 14, 1, 0, 0, 0, 3, 61.2, 20.4, 812, 0, 2, 0.004, 55.1, 0.3];
