// kernel @k0 entry k0 workgroups [8, 1, 1] bindings 2
@group(0) @binding(0) 
var<storage> s0_: array<u32>;
@group(0) @binding(1) 
var<storage, read_write> s1_: array<u32>;
var<workgroup> sh_v2_: array<vec2<f32>, 128>;

fn psi_isinf(x: f32) -> bool {
    return ((bitcast<u32>(x) & 2147483647u) == 2139095040u);
}

fn psi_isnan(x_1: f32) -> bool {
    return ((bitcast<u32>(x_1) & 2147483647u) > 2139095040u);
}

fn psi_lse_comb(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    var local: bool;

    let _e3 = psi_isnan(a.x);
    if !(_e3) {
        let _e8 = psi_isnan(b.x);
        local = _e8;
    } else {
        local = true;
    }
    let _e10 = local;
    if _e10 {
        return vec2<f32>((a.x + b.x), 1f);
    }
    if (a.x == bitcast<f32>(4286578688u)) {
        return b;
    }
    if (b.x == bitcast<f32>(4286578688u)) {
        return a;
    }
    if (a.x == b.x) {
        return vec2<f32>(a.x, (a.y + b.y));
    }
    let m = max(a.x, b.x);
    return vec2<f32>(m, ((a.y * exp((a.x - m))) + (b.y * exp((b.x - m)))));
}

fn psi_lse_final(s_1: vec2<f32>) -> f32 {
    var local_1: bool;

    let _e2 = psi_isnan(s_1.x);
    if !(_e2) {
        let _e7 = psi_isinf(s_1.x);
        local_1 = _e7;
    } else {
        local_1 = true;
    }
    let _e9 = local_1;
    if _e9 {
        return s_1.x;
    }
    return (s_1.x + log(s_1.y));
}

@compute @workgroup_size(128, 1, 1) 
fn k0_(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    var a1_: vec2<f32>;
    var r: u32;
    var s: u32 = 64u;
    var r_1: u32;

    let row = ((wid.y * 8u) + wid.x);
    if (row >= 8u) {
        return;
    }
    let c0_ = i32(row);
    a1_ = vec2<f32>(bitcast<f32>(4286578688u), 0f);
    r = lid;
    loop {
        let _e16 = r;
        if (_e16 < 100u) {
        } else {
            break;
        }
        {
            let _e19 = r;
            let c1_ = i32(_e19);
            let _e29 = s0_[u32(((0i + (100i * c0_)) + c1_))];
            let v0_ = bitcast<f32>(_e29);
            let _e31 = a1_;
            let _e34 = psi_lse_comb(_e31, vec2<f32>(v0_, 1f));
            a1_ = _e34;
        }
        continuing {
            let _e35 = r;
            r = (_e35 + 128u);
        }
    }
    let _e40 = a1_;
    sh_v2_[lid] = _e40;
    workgroupBarrier();
    loop {
        let _e43 = s;
        if (_e43 > 0u) {
        } else {
            break;
        }
        {
            let _e46 = s;
            if (lid < _e46) {
                let _e52 = sh_v2_[lid];
                let _e54 = s;
                let _e57 = sh_v2_[(lid + _e54)];
                let _e58 = psi_lse_comb(_e52, _e57);
                sh_v2_[lid] = _e58;
            }
            workgroupBarrier();
        }
        continuing {
            let _e59 = s;
            s = (_e59 >> 1u);
        }
    }
    let _e64 = sh_v2_[0];
    let _e65 = psi_lse_final(_e64);
    workgroupBarrier();
    let v2_ = (_e65 - _e65);
    let v3_ = (_e65 + v2_);
    r_1 = lid;
    loop {
        let _e69 = r_1;
        if (_e69 < 100u) {
        } else {
            break;
        }
        {
            let _e72 = r_1;
            let c1_1 = i32(_e72);
            let _e82 = s0_[u32(((0i + (100i * c0_)) + c1_1))];
            let v4_ = bitcast<f32>(_e82);
            let v5_ = (v4_ - v3_);
            let v6_ = exp(v5_);
            s1_[u32(((0i + (100i * c0_)) + c1_1))] = bitcast<u32>(v6_);
        }
        continuing {
            let _e95 = r_1;
            r_1 = (_e95 + 128u);
        }
    }
    return;
}

