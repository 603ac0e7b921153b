// Peer: node-hl7-server 2.5.0 with a handler that stores each message durably (one INSERT,
// committed) before it answers AA: the same promise the Ficus adapter keeps.
import { Server } from 'node-hl7-server';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 16 });
await pool.query('CREATE TABLE IF NOT EXISTS peer_messages (id bigserial PRIMARY KEY, control_id text NOT NULL, raw text NOT NULL, received_at timestamptz NOT NULL DEFAULT now())');
const server = new Server({ bindAddress: '127.0.0.1' });
server.createInbound({ port: Number(process.env.PORT) }, async (req, res) => {
  const message = req.getMessage();
  await pool.query('INSERT INTO peer_messages (control_id, raw) VALUES ($1, $2)', [message.get('MSH.10').toString(), message.toString()]);
  await res.sendResponse('AA');
});
