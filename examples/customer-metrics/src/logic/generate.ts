import pl from "nodejs-polars";

/** mulberry32: the same seed gives the same rows on every machine. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Niklaus"];
const DAY_MS = 86_400_000;

export function generateCustomers(count: number, seed = 1): pl.DataFrame {
  const rnd = seeded(seed);
  const ids = Array.from({ length: count }, (_, i) => i + 1);
  return pl.DataFrame({
    customer_id: pl.Series("customer_id", ids, pl.Int64),
    name: pl.Series("name", ids.map((i) => `${NAMES[Math.floor(rnd() * NAMES.length)]} ${i}`), pl.Utf8),
    country: pl.Series("country", ids.map(() => (rnd() < 0.5 ? "FR" : rnd() < 0.5 ? "DE" : "US")), pl.Utf8),
  });
}

/** `rows` orders spread over `days` days from `start`, amounts in euros with cents. */
export function generateOrders(rows: number, options: { customers: number; start: string; days: number; seed?: number }): pl.DataFrame {
  const rnd = seeded(options.seed ?? 2);
  const start = Date.parse(`${options.start}T00:00:00Z`);
  const orderId = new Array<number>(rows);
  const customerId = new Array<number>(rows);
  const amount = new Array<number>(rows);
  const date = new Array<string>(rows);
  for (let i = 0; i < rows; i++) {
    orderId[i] = i + 1;
    customerId[i] = 1 + Math.floor(rnd() * options.customers);
    amount[i] = Math.round(5 + rnd() * 49_500) / 100;
    date[i] = new Date(start + Math.floor(rnd() * options.days) * DAY_MS).toISOString().slice(0, 10);
  }
  return pl.DataFrame({
    order_id: pl.Series("order_id", orderId, pl.Int64),
    customer_id: pl.Series("customer_id", customerId, pl.Int64),
    amount: pl.Series("amount", amount, pl.Float64),
    order_date: pl.Series("order_date", date, pl.Utf8),
  });
}
