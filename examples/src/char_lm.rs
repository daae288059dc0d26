//! Character-level transformer language model: a line-by-line port of
//! `examples/mlx/char_lm.py` (the Python line is quoted above each part).
//!
//! Same corpus (`examples/data/corpus.txt`, vocabulary = its sorted
//! distinct characters; the file is ASCII, so characters are bytes), model
//! (embedding 128, learned positions, 2 pre-norm blocks of 4-head causal
//! self-attention and a 4x ReLU MLP, final LayerNorm, output projection),
//! loss (cross-entropy, mean), optimizer (AdamW lr 3e-3, weight decay
//! 0.01), context 64, batch 32, the same deterministic batches, and seed
//! 0: the modules are built in MLX's order and draw from the same threefry
//! stream, so the initial weights are MLX's (embeddings are normal draws,
//! equal to MLX's but for rare last-ulp differences of `log`, see
//! docs/API.md).

use crate::common::{self, Batch, Flags, Run, State};
use psionic_mlx::nn::{
    self,
    losses::{cross_entropy, Reduction},
    Layer, Module, ModuleState,
};
use psionic_mlx::optimizers::{AdamW, Optimizer};
use psionic_mlx::*;

pub const D: i64 = 128;
pub const HEADS: i64 = 4;
pub const LAYERS: usize = 2;
pub const T: usize = 64;
pub const B: usize = 32;
pub const STEPS: usize = 300;

// class Block(nn.Module):
//     def __init__(self):
//         self.ln1 = nn.LayerNorm(D); self.attn = nn.MultiHeadAttention(D, HEADS)
//         self.ln2 = nn.LayerNorm(D); self.fc1 = nn.Linear(D, 4 * D); self.fc2 = nn.Linear(4 * D, D)
#[derive(Clone, Debug)]
pub struct Block {
    pub ln1: nn::LayerNorm,
    pub attn: nn::MultiHeadAttention,
    pub ln2: nn::LayerNorm,
    pub fc1: nn::Linear,
    pub fc2: nn::Linear,
    pub state: ModuleState,
}
psionic_mlx::impl_module!(Block { module ln1, module attn, module ln2, module fc1, module fc2 });

impl Default for Block {
    fn default() -> Self {
        Self::new()
    }
}

impl Block {
    pub fn new() -> Self {
        // Field order is construction order: the random draws follow it.
        let ln1 = nn::LayerNorm::with_dims(D);
        let attn = nn::MultiHeadAttention::new(D, HEADS);
        let ln2 = nn::LayerNorm::with_dims(D);
        let fc1 = nn::Linear::new(D, 4 * D, true);
        let fc2 = nn::Linear::new(4 * D, D, true);
        Block {
            ln1,
            attn,
            ln2,
            fc1,
            fc2,
            state: ModuleState::default(),
        }
    }

    //     def __call__(self, x, mask):
    //         h = self.ln1(x)
    //         x = x + self.attn(h, h, h, mask)
    //         return x + self.fc2(nn.relu(self.fc1(self.ln2(x))))
    pub fn call(&self, x: &Array, mask: &Array) -> Array {
        let h = self.ln1.forward(x);
        let x = x + self.attn.attend(&h, &h, &h, Some(mask));
        &x + self
            .fc2
            .forward(&nn::relu(&self.fc1.forward(&self.ln2.forward(&x))))
    }
}

// class CharLM(nn.Module):
//     def __init__(self, vocab):
//         self.tok = nn.Embedding(vocab, D); self.pos = nn.Embedding(T, D)
//         self.blocks = [Block() for _ in range(LAYERS)]
//         self.ln = nn.LayerNorm(D); self.out = nn.Linear(D, vocab)
#[derive(Clone, Debug)]
pub struct CharLm {
    pub tok: nn::Embedding,
    pub pos: nn::Embedding,
    pub blocks: Vec<Block>,
    pub ln: nn::LayerNorm,
    pub out: nn::Linear,
    pub state: ModuleState,
}
psionic_mlx::impl_module!(CharLm { module tok, module pos, list blocks, module ln, module out });

impl CharLm {
    pub fn new(vocab: usize) -> Self {
        let tok = nn::Embedding::new(vocab as i64, D);
        let pos = nn::Embedding::new(T as i64, D);
        let blocks = (0..LAYERS).map(|_| Block::new()).collect();
        let ln = nn::LayerNorm::with_dims(D);
        let out = nn::Linear::new(D, vocab as i64, true);
        CharLm {
            tok,
            pos,
            blocks,
            ln,
            out,
            state: ModuleState::default(),
        }
    }

    //     def __call__(self, idx):
    //         x = self.tok(idx) + self.pos(mx.arange(idx.shape[1]))
    //         mask = nn.MultiHeadAttention.create_additive_causal_mask(idx.shape[1])
    //         for b in self.blocks: x = b(x, mask)
    //         return self.out(self.ln(x))
    pub fn call(&self, idx: &Array) -> Array {
        let l = idx.shape()[1];
        let mut x = self.tok.forward(idx) + self.pos.forward(&arange(0i32, l as i32, 1));
        let mask = nn::MultiHeadAttention::create_additive_causal_mask(l, DType::F32);
        for b in &self.blocks {
            x = b.call(&x, &mask);
        }
        self.out.forward(&self.ln.forward(&x))
    }
}

// def loss_fn(model, xb, yb):
//     return nn.losses.cross_entropy(model(xb), yb, reduction="mean")
pub fn loss_fn(model: &CharLm, (xb, yb): &Batch) -> Array {
    cross_entropy(&model.call(xb), yb, None, -1, 0.0, Reduction::Mean)
}

/// The corpus as token ids, and the vocabulary (token id -> byte).
pub struct Corpus {
    pub vocab: Vec<u8>,
    pub data: Vec<i32>,
}

// text = open("corpus.txt").read(); vocab = sorted(set(text))
// index = {c: i for i, c in enumerate(vocab)}; data = [index[c] for c in text]
pub fn load_corpus() -> Result<Corpus, Error> {
    let path = common::data_path("corpus.txt");
    let text =
        std::fs::read(&path).map_err(|e| Error::new("load", format!("{}: {e}", path.display())))?;
    if !text.is_ascii() {
        // Python indexes characters; bytes are characters only for ASCII.
        return Err(Error::new(
            "load",
            format!("{}: expected an ASCII text", path.display()),
        ));
    }
    let mut vocab = text.clone();
    vocab.sort_unstable();
    vocab.dedup();
    let mut index = [0i32; 256];
    for (i, &c) in vocab.iter().enumerate() {
        index[c as usize] = i as i32;
    }
    let data = text.iter().map(|&c| index[c as usize]).collect();
    Ok(Corpus { vocab, data })
}

// def batches(data, steps):
//     starts = [((k * B + b) * 7919) % (n - T - 1) for b in range(B)]
//     xb = np.stack([data[s:s + T] for s in starts]); yb = ... data[s + 1:s + T + 1]
pub fn batches(data: &[i32], steps: usize, batch: usize) -> Result<Vec<Batch>, Error> {
    let n = data.len();
    if n < T + 2 {
        return Err(Error::new(
            "batches",
            format!("a corpus of {n} tokens is shorter than the context"),
        ));
    }
    let out: Vec<Batch> = (0..steps)
        .map(|k| {
            let mut xb = Vec::with_capacity(batch * T);
            let mut yb = Vec::with_capacity(batch * T);
            for b in 0..batch {
                let s = ((k * batch + b) * 7919) % (n - T - 1);
                xb.extend_from_slice(&data[s..s + T]);
                yb.extend_from_slice(&data[s + 1..s + T + 1]);
            }
            let shape = [batch as i32, T as i32];
            (array(&xb, &shape), array(&yb, &shape))
        })
        .collect();
    let all: Vec<&Array> = out.iter().flat_map(|(x, y)| [x, y]).collect();
    eval(&all)?;
    Ok(out)
}

/// `mx.random.seed(0); model = CharLM(len(vocab)); opt = optim.AdamW(3e-3, weight_decay=0.01)`
/// and the initial state.
pub fn setup(vocab: usize) -> Result<(CharLm, AdamW, State), Error> {
    let model = common::seeded(0, || CharLm::new(vocab));
    let mut opt = AdamW::new(3e-3).weight_decay(0.01);
    // Slots now rather than at the first update: the state keeps one
    // structure, so the compiled step is traced once.
    opt.init(&Nest::from(&model.trainable_parameters()))?;
    let state = (model.parameters(), opt.state());
    Ok((model, opt, state))
}

/// Greedy decoding: `n` characters after `prompt`, each the argmax of the
/// model's next-token distribution over the last `T` tokens.
pub fn greedy_sample(
    model: &CharLm,
    state: &State,
    corpus: &Corpus,
    prompt: &[i32],
    n: usize,
) -> Result<String, Error> {
    let model = nn::with_params(model, &state.0)?;
    let mut toks = prompt.to_vec();
    for _ in 0..n {
        let ctx = &toks[toks.len().saturating_sub(T)..];
        let logits = model.call(&array(ctx, &[1, ctx.len() as i32]));
        let last = take(&logits, &array(&[ctx.len() as i32 - 1], &[1]), Some(1));
        let next = last
            .argmax(Some(-1), false)
            .reshape(&[-1])
            .to_vec::<u32>()?;
        toks.push(next[0] as i32);
    }
    Ok(toks[prompt.len()..]
        .iter()
        .map(|&t| corpus.vocab[t as usize] as char)
        .collect())
}

/// Trains as the script does (`compiled: false` runs the same step
/// uncompiled). Returns the run and the corpus.
pub fn run(flags: &Flags, print_every: usize) -> Result<(Run, CharLm, Corpus), Error> {
    let corpus = load_corpus()?;
    let (model, opt, state) = setup(corpus.vocab.len())?;
    let bs = batches(&corpus.data, flags.steps, flags.batch)?;
    let r = common::train(&model, &opt, loss_fn, state, &bs, !flags.eager, print_every)?;
    Ok((r, model, corpus))
}
