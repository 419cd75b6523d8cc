/**
 * The steward status to show: the kiosk sends it both as events and in its
 * command replies, and the two can arrive out of order (a reply read before
 * a sync finished may land after the sync's event). The shell stamps each
 * with `seq` in the order its state was read; the newer one wins, a tie
 * goes to the incoming one.
 */
export function newest<S extends { seq: number }>(shown: S | null, incoming: S): S {
  return shown !== null && incoming.seq < shown.seq ? shown : incoming;
}
