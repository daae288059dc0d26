// kernel @k0 entry k0 workgroups [4, 1, 1] bindings 4
@group(0) @binding(0) 
var<storage> s0_: array<u32>;
@group(0) @binding(1) 
var<storage> s1_: array<u32>;
@group(0) @binding(2) 
var<storage> s2_: array<u32>;
@group(0) @binding(3) 
var<storage, read_write> s3_: array<u32>;

fn psi_isinf(x: f32) -> bool {
    return ((bitcast<u32>(x) & 2147483647u) == 2139095040u);
}

fn psi_isnan(x_1: f32) -> bool {
    return ((bitcast<u32>(x_1) & 2147483647u) > 2139095040u);
}

fn psi_tanh(a: f32) -> f32 {
    let _e1 = psi_isnan(a);
    if _e1 {
        return a;
    }
    return tanh(clamp(a, -20f, 20f));
}

@compute @workgroup_size(256, 1, 1) 
fn k0_(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = ((gid.y * 1024u) + gid.x);
    if (i >= 1024u) {
        return;
    }
    let c0_ = i32(i);
    let _e14 = s0_[u32((0i + c0_))];
    let v0_ = bitcast<f32>(_e14);
    let _e21 = s1_[u32((0i + c0_))];
    let v1_ = bitcast<f32>(_e21);
    let _e28 = s2_[u32((0i + c0_))];
    let v2_ = bitcast<f32>(_e28);
    let v3_ = (v1_ * v2_);
    let v4_ = (v0_ + v3_);
    let v5_ = (v4_ * v4_);
    let v6_ = (v4_ * v5_);
    let v8_ = (v6_ * 0.044715f);
    let v9_ = (v4_ + v8_);
    let v11_ = (v9_ * 0.7978846f);
    let _e39 = psi_tanh(v11_);
    let v14_ = (_e39 + 1f);
    let v15_ = (v4_ * v14_);
    let v17_ = (v15_ * 0.5f);
    s3_[u32((0i + c0_))] = bitcast<u32>(v17_);
    return;
}

