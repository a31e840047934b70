// Standard Cosmos tooling against pocket-devnet: CosmJS, the JavaScript Cosmos SDK client, used
// exactly as a wallet or explorer uses it against a CometBFT 0.38 node.
//
//   node cosmjs_test.js /path/to/pocket-devnet
//
// Starts a devnet (`init --seed` in a temporary directory, then `run` on 127.0.0.1 with a free
// port), then, through CosmJS only: reads blocks over HTTP, subscribes to NewBlock and Tx events
// over WebSocket, queries an account and a balance, signs and sends MsgSends with the faucet key
// that `init` wrote (one with an explicit fee, one with the fee from a simulation), sees them
// included with the balances changed, finds them with tx_search, sees a MsgSend that fails in its
// block reported with the bank's code, sends one with broadcast_tx_commit, and reads the node's
// minimum gas price. Every step asserts; the first failure ends the run with
// exit code 1. Ends with `N passed, N failed`, counting steps. Waits have generous deadlines that
// only bound a failure.
"use strict";

const assert = require("node:assert/strict");
const childProcess = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

// The pinned CosmJS packages (package-lock.json), installed by scripts/setup with `npm ci`.
function requireInstalled(name) {
  try {
    return require(name);
  } catch (error) {
    process.stdout.write(
      `cosmjs_test: cannot load ${name} (${error.message}); install the pinned packages with ` +
        "scripts/setup (npm ci in test/devnet/cosmjs)\n0 passed, 1 failed\n",
    );
    process.exit(1);
  }
}
const { Comet38Client, WebsocketClient, connectComet } = requireInstalled("@cosmjs/tendermint-rpc");
const {
  GasPrice,
  SigningStargateClient,
  StargateClient,
  assertIsDeliverTxSuccess,
  calculateFee,
} = requireInstalled("@cosmjs/stargate");
const { DirectSecp256k1Wallet } = requireInstalled("@cosmjs/proto-signing");
const { fromHex, toHex } = requireInstalled("@cosmjs/encoding");
const { ConfigRequest, ConfigResponse } = requireInstalled("cosmjs-types/cosmos/base/node/v1beta1/query");
const { TxRaw } = requireInstalled("cosmjs-types/cosmos/tx/v1beta1/tx");

const DEADLINE_MS = 60000;
const CHAIN_ID = "pocket";
const DENOM = "upokt";

function log(message) {
  process.stdout.write(`cosmjs_test: ${message}\n`);
}

// Polls `condition` (async) every 50 ms until it returns a truthy value; fails after DEADLINE_MS.
async function waitFor(what, condition) {
  const start = Date.now();
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() - start > DEADLINE_MS) {
      throw new Error(`timed out after ${DEADLINE_MS / 1000}s waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Collects the events of an xstream subscription until `done(events)` holds.
function collect(stream, what, done) {
  const events = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out after ${DEADLINE_MS / 1000}s waiting for ${what}`)),
      DEADLINE_MS,
    );
    const listener = {
      next: (event) => {
        events.push(event);
        if (done(events)) {
          clearTimeout(timer);
          stream.removeListener(listener);
          resolve(events);
        }
      },
      error: (error) => {
        clearTimeout(timer);
        reject(new Error(`${what}: subscription failed: ${JSON.stringify(error)}`));
      },
      complete: () => {
        clearTimeout(timer);
        reject(new Error(`${what}: subscription ended early`));
      },
    };
    stream.addListener(listener);
  });
}

// accounts.yaml as `init` writes it: "name:\n  address: …\n  key_file: …".
function readAccounts(dir) {
  const accounts = {};
  let current = null;
  for (const line of fs.readFileSync(path.join(dir, "accounts.yaml"), "utf8").split("\n")) {
    const name = line.match(/^([A-Za-z0-9_-]+):\s*$/);
    if (name) {
      current = accounts[name[1]] = {};
      continue;
    }
    const field = line.match(/^\s+(address|key_file):\s*(\S+)\s*$/);
    if (field && current) current[field[1]] = field[2];
  }
  return accounts;
}

function startDevnet(binary) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pocket-devnet-cosmjs-"));
  const init = childProcess.spawnSync(binary, ["init", dir, "--seed", "cosmjs"], {
    encoding: "utf8",
  });
  if (init.status !== 0) {
    throw new Error(`pocket-devnet init failed (${init.status}): ${init.stderr}${init.stdout}`);
  }
  const logFd = fs.openSync(path.join(dir, "devnet.log"), "a");
  const child = childProcess.spawn(
    binary,
    [
      "run",
      "--genesis",
      path.join(dir, "genesis.yaml"),
      "--rpc",
      "127.0.0.1:0",
      "--port-file",
      path.join(dir, "port"),
      "--block-time",
      "200ms",
    ],
    { stdio: ["ignore", logFd, logFd] },
  );
  let exited = null;
  child.on("exit", (code, signal) => {
    exited = signal ? `signal ${signal}` : `exit code ${code}`;
  });
  return {
    dir,
    child,
    exited: () => exited,
    log: () => fs.readFileSync(path.join(dir, "devnet.log"), "utf8"),
    stop: () => {
      if (exited === null) child.kill("SIGKILL");
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function main() {
  const binary = process.argv[2];
  if (!binary) {
    process.stderr.write("usage: node cosmjs_test.js /path/to/pocket-devnet\n");
    process.exit(2);
  }
  let passed = 0;
  let current = "";
  const step = async (name, body) => {
    current = name;
    log(`step: ${name}`);
    await body();
    passed += 1;
  };

  const devnet = startDevnet(binary);
  const clients = [];
  try {
    const port = await waitFor("the devnet's port file", () => {
      if (devnet.exited()) throw new Error(`pocket-devnet ended: ${devnet.exited()}`);
      const file = path.join(devnet.dir, "port");
      return fs.existsSync(file) && fs.readFileSync(file, "utf8").trim();
    });
    const httpUrl = `http://127.0.0.1:${port}`;
    const wsUrl = `ws://127.0.0.1:${port}`;
    const accounts = readAccounts(devnet.dir);
    const faucet = accounts.faucet;
    assert.ok(faucet && faucet.address && faucet.key_file, "accounts.yaml names the faucet");

    // connectComet reads `status` and picks the client by node_info.version.
    const comet = await connectComet(httpUrl);
    clients.push(comet);
    await step("status and protocol detection: a CometBFT 0.38 node", async () => {
      assert.ok(comet instanceof Comet38Client, "connectComet chose Comet38Client");
      const status = await comet.status();
      assert.equal(status.nodeInfo.network, CHAIN_ID);
      assert.equal(status.syncInfo.catchingUp, false);
    });

    await step("blocks: chained by last_block_id, read by height and by range", async () => {
      await waitFor("height 3", async () => (await comet.status()).syncInfo.latestBlockHeight >= 3);
      const one = await comet.block(1);
      const two = await comet.block(2);
      assert.equal(one.block.header.height, 1);
      assert.equal(two.block.header.height, 2);
      assert.equal(two.block.header.chainId, CHAIN_ID);
      assert.equal(toHex(two.block.header.lastBlockId.hash), toHex(one.blockId.hash));
      assert.equal(two.block.lastCommit.height, 1);
      const range = await comet.blockchain(1, 2);
      assert.equal(range.blockMetas.length, 2);
      assert.equal(range.blockMetas[0].header.height, 2);
      assert.equal(toHex(range.blockMetas[1].blockId.hash), toHex(one.blockId.hash));
      const results = await comet.blockResults(2);
      assert.equal(results.height, 2);
      assert.equal(results.results.length, 0);
    });

    const stargate = await StargateClient.connect(httpUrl);
    clients.push(stargate);
    let faucetAccount;
    let faucetBalance;
    await step("StargateClient: chain id, height, latest block", async () => {
      assert.equal(await stargate.getChainId(), CHAIN_ID);
      const height = await stargate.getHeight();
      assert.ok(height >= 3, `height ${height}`);
      const block = await stargate.getBlock();
      assert.ok(block.header.height >= height);
      assert.equal(block.header.chainId, CHAIN_ID);
    });

    await step("queries: the faucet's account and balance", async () => {
      faucetAccount = await stargate.getAccount(faucet.address);
      assert.ok(faucetAccount, "the faucet account exists");
      assert.equal(faucetAccount.address, faucet.address);
      assert.equal(faucetAccount.sequence, 0);
      assert.equal(faucetAccount.pubkey, null);
      faucetBalance = BigInt((await stargate.getBalance(faucet.address, DENOM)).amount);
      assert.ok(faucetBalance > 1000000n, `faucet balance ${faucetBalance}`);
      const all = await stargate.getAllBalances(faucet.address);
      assert.deepEqual(all, [{ denom: DENOM, amount: faucetBalance.toString() }]);
    });

    // A recipient nobody has seen: no account until the first MsgSend reaches it.
    const recipientWallet = await DirectSecp256k1Wallet.fromKey(crypto.randomBytes(32), "pokt");
    const [recipient] = await recipientWallet.getAccounts();
    await step("queries: an unknown account is null, its balance 0", async () => {
      assert.equal(await stargate.getAccount(recipient.address), null);
      assert.equal((await stargate.getBalance(recipient.address, DENOM)).amount, "0");
    });

    // WebSocket subscriptions, opened before the transactions so their blocks are seen.
    const ws = await Comet38Client.create(new WebsocketClient(wsUrl));
    clients.push(ws);
    const newBlocks = ws.subscribeNewBlock();
    const firstBlocks = collect(newBlocks, "two NewBlock events", (events) => events.length >= 2);
    const faucetTxs = ws.subscribeTx(`tm.event='Tx' AND message.sender='${faucet.address}'`);
    const sentTxs = collect(faucetTxs, "four Tx events of the faucet", (e) => e.length >= 4);
    await step("subscribe: consecutive NewBlock events over WebSocket", async () => {
      const events = await firstBlocks;
      assert.equal(events[1].header.height, events[0].header.height + 1);
      assert.equal(events[0].header.chainId, CHAIN_ID);
      const block = await comet.block(events[1].header.height);
      assert.equal(toHex(block.block.header.lastBlockId.hash), toHex(events[1].header.lastBlockId.hash));
    });

    const key = fromHex(fs.readFileSync(path.join(devnet.dir, faucet.key_file), "utf8").trim());
    const wallet = await DirectSecp256k1Wallet.fromKey(key, "pokt");
    const signing = await SigningStargateClient.connectWithSigner(httpUrl, wallet, {
      gasPrice: GasPrice.fromString(`0.000001${DENOM}`),
      broadcastPollIntervalMs: 100,
      broadcastTimeoutMs: DEADLINE_MS,
    });
    clients.push(signing);

    await step("wallet: the init key's address is the faucet's", async () => {
      const [signer] = await wallet.getAccounts();
      assert.equal(signer.address, faucet.address);
    });

    const fee = calculateFee(200000, GasPrice.fromString(`0.000001${DENOM}`));
    let firstSend;
    await step("sign and send a MsgSend with an explicit fee; included, balances moved", async () => {
      firstSend = await signing.sendTokens(
        faucet.address,
        recipient.address,
        [{ denom: DENOM, amount: "12345" }],
        fee,
        "from cosmjs",
      );
      assertIsDeliverTxSuccess(firstSend);
      assert.ok(firstSend.height > 0);
      assert.equal(firstSend.transactionHash.length, 64);
      assert.equal((await stargate.getBalance(recipient.address, DENOM)).amount, "12345");
      const after = BigInt((await stargate.getBalance(faucet.address, DENOM)).amount);
      assert.equal(after, faucetBalance - 12345n - BigInt(fee.amount[0].amount));
      faucetBalance = after;
      const account = await stargate.getAccount(faucet.address);
      assert.equal(account.sequence, 1);
      assert.ok(account.pubkey, "the account's public key is recorded by its first tx");
      const created = await stargate.getAccount(recipient.address);
      assert.ok(created, "MsgSend created the recipient's account");
    });

    await step("the included tx: by hash (tx_search), in its block, by sender", async () => {
      const found = await stargate.getTx(firstSend.transactionHash);
      assert.ok(found, "getTx finds the tx");
      assert.equal(found.code, 0);
      assert.equal(found.height, firstSend.height);
      const block = await stargate.getBlock(firstSend.height);
      assert.ok(block.txs.some((tx) =>
        crypto.createHash("sha256").update(tx).digest("hex").toUpperCase() ===
          firstSend.transactionHash));
      const bySender = await stargate.searchTx([{ key: "message.sender", value: faucet.address }]);
      assert.ok(bySender.some((tx) => tx.hash === firstSend.transactionHash));
    });

    await step("fee from a simulation (fee 'auto'): included", async () => {
      const gas = await signing.simulate(
        faucet.address,
        [{
          typeUrl: "/cosmos.bank.v1beta1.MsgSend",
          value: { fromAddress: faucet.address, toAddress: recipient.address, amount: [{ denom: DENOM, amount: "1" }] },
        }],
        "",
      );
      assert.ok(gas > 0, `simulated gas ${gas}`);
      const sent = await signing.sendTokens(
        faucet.address, recipient.address, [{ denom: DENOM, amount: "655" }], "auto");
      assertIsDeliverTxSuccess(sent);
      assert.equal((await stargate.getBalance(recipient.address, DENOM)).amount, "13000");
      assert.equal((await stargate.getAccount(faucet.address)).sequence, 2);
    });

    await step("a MsgSend beyond the balance fails in its block with the bank's code", async () => {
      const [signer] = await recipientWallet.getAccounts();
      assert.equal(signer.address, recipient.address);
      const tooMuch = await signing.sendTokens(
        faucet.address, recipient.address, [{ denom: DENOM, amount: (faucetBalance * 2n).toString() }], fee);
      assert.equal(tooMuch.code, 5, `code ${tooMuch.code}: ${tooMuch.rawLog}`);
      // The fee and the sequence are consumed all the same.
      assert.equal((await stargate.getAccount(faucet.address)).sequence, 3);
      assert.equal((await stargate.getBalance(recipient.address, DENOM)).amount, "13000");
    });

    await step("broadcast_tx_commit: a signed MsgSend, answered once included", async () => {
      const account = await stargate.getAccount(faucet.address);
      const signed = await signing.sign(
        faucet.address,
        [{
          typeUrl: "/cosmos.bank.v1beta1.MsgSend",
          value: { fromAddress: faucet.address, toAddress: recipient.address, amount: [{ denom: DENOM, amount: "1000" }] },
        }],
        fee,
        "commit",
        { accountNumber: account.accountNumber, sequence: account.sequence, chainId: CHAIN_ID },
      );
      const committed = await comet.broadcastTxCommit({ tx: TxRaw.encode(signed).finish() });
      assert.equal(committed.checkTx.code, 0);
      assert.equal(committed.txResult.code, 0);
      assert.ok(committed.height > 0);
      assert.equal((await stargate.getBalance(recipient.address, DENOM)).amount, "14000");
    });

    await step("the node's config: the minimum gas price (cosmos.base.node Config)", async () => {
      const response = await comet.abciQuery({
        path: "/cosmos.base.node.v1beta1.Service/Config",
        data: ConfigRequest.encode(ConfigRequest.fromPartial({})).finish(),
      });
      assert.equal(response.code, 0);
      assert.equal(ConfigResponse.decode(response.value).minimumGasPrice, "0.000001000000000000upokt");
    });

    await step("subscribe: the faucet's Tx events arrive in order", async () => {
      const events = await sentTxs;
      assert.equal(toHex(events[0].hash).toUpperCase(), firstSend.transactionHash);
      assert.equal(events[0].height, firstSend.height);
      assert.equal(events[0].result.code, 0);
      assert.equal(events[2].result.code, 5);
      assert.equal(events[3].result.code, 0);
    });
  } catch (error) {
    log(`FAILED at step "${current}": ${error && error.stack ? error.stack : error}`);
    log(`devnet log tail:\n${devnet.log().slice(-3000)}`);
    for (const client of clients) client.disconnect();
    devnet.stop();
    process.stdout.write(`${passed} passed, 1 failed\n`);
    process.exit(1);
  }
  for (const client of clients) client.disconnect();
  devnet.stop();
  process.stdout.write(`${passed} passed, 0 failed\n`);
  process.exit(0);
}

main();
