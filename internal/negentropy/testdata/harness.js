// Line-oriented driver of the reference implementation (Negentropy.js, the
// unmodified js/Negentropy.js of github.com/hoytech/negentropy; MIT, see
// LICENSE-negentropy) for the Go tests in ../interop_test.go. Modelled on the
// reference's test/js/harness.js.
//
// stdin, one command a line:
//   item,<timestamp>,<id hex>   add an item
//   seal                        seal the storage and create the session
//   initiate                    become the client; prints msg,<hex>
//   msg,<hex>                   reconcile a message; a client prints
//                               have,<id>/need,<id> lines, then msg,<hex> or done;
//                               a server prints msg,<hex>
// Failures print error,<message> and exit 1.
// The environment variable FRAMESIZELIMIT sets the frame size limit (0 = none).

const path = require('path');
const readline = require('readline');
const { Negentropy, NegentropyStorageVector } = require(path.join(__dirname, 'Negentropy.js'));

const frameSizeLimit = parseInt(process.env.FRAMESIZELIMIT || '0');
const storage = new NegentropyStorageVector();
let ne;

function fail(err) {
    process.stdout.write(`error,${err && err.message ? err.message : err}\n`, () => process.exit(1));
}

async function handle(line) {
    const f = line.split(',');
    switch (f[0]) {
    case 'item':
        if (f.length !== 3) throw Error('item wants 2 fields');
        storage.insert(parseInt(f[1]), f[2].trim());
        break;
    case 'seal':
        storage.seal();
        ne = new Negentropy(storage, frameSizeLimit);
        break;
    case 'initiate': {
        const q = await ne.initiate();
        if (frameSizeLimit && q.length / 2 > frameSizeLimit) throw Error('frameSizeLimit exceeded');
        console.log(`msg,${q}`);
        break;
    }
    case 'msg': {
        const [q, have, need] = await ne.reconcile(f[1] || '');
        for (const id of have) console.log(`have,${id}`);
        for (const id of need) console.log(`need,${id}`);
        if (frameSizeLimit && q !== null && q.length / 2 > frameSizeLimit) throw Error('frameSizeLimit exceeded');
        console.log(q === null ? 'done' : `msg,${q}`);
        break;
    }
    default:
        throw Error(`unknown command: ${f[0]}`);
    }
}

// Commands run strictly one after another, although reconcile is async.
let chain = Promise.resolve();
const rl = readline.createInterface({ input: process.stdin, terminal: false });
rl.on('line', (line) => { chain = chain.then(() => handle(line)).catch(fail); });
rl.on('close', () => { chain.then(() => process.exit(0)); });
