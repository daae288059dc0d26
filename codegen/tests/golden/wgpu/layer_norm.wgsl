// kernel @k0 entry k0 workgroups [4, 1, 1] bindings 4
@group(0) @binding(0) 
var<storage> s0_: array<u32>;
@group(0) @binding(1) 
var<storage> s1_: array<u32>;
@group(0) @binding(2) 
var<storage> s2_: array<u32>;
@group(0) @binding(3) 
var<storage, read_write> s3_: array<u32>;
var<workgroup> sh_f: array<f32, 64>;
var<workgroup> sh_v3_: array<vec3<f32>, 64>;

fn psi_m2_comb(a: vec3<f32>, b: vec3<f32>) -> vec3<f32> {
    let n = (a.x + b.x);
    if (a.x == 0f) {
        return b;
    }
    if (b.x == 0f) {
        return a;
    }
    let d = (b.y - a.y);
    return vec3<f32>(n, (a.y + (d * (b.x / n))), ((a.z + b.z) + ((d * d) * ((a.x * b.x) / n))));
}

fn psi_m2_push(s_2: vec3<f32>, v: f32) -> vec3<f32> {
    let n_1 = (s_2.x + 1f);
    let d_1 = (v - s_2.y);
    let mean = (s_2.y + (d_1 / n_1));
    return vec3<f32>(n_1, mean, (s_2.z + (d_1 * (v - mean))));
}

@compute @workgroup_size(64, 1, 1) 
fn k0_(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    var a3_: f32 = 0f;
    var a4_: vec3<f32> = vec3<f32>(0f, 0f, 0f);
    var r: u32;
    var s: u32 = 32u;
    var s_1: u32 = 32u;
    var r_1: u32;

    let row = ((wid.y * 4u) + wid.x);
    if (row >= 4u) {
        return;
    }
    let c0_ = i32(row);
    r = lid;
    loop {
        let _e20 = r;
        if (_e20 < 64u) {
        } else {
            break;
        }
        {
            let _e23 = r;
            let c1_ = i32(_e23);
            let _e33 = s0_[u32(((0i + (64i * c0_)) + c1_))];
            let v2_ = bitcast<f32>(_e33);
            let _e35 = a3_;
            a3_ = (_e35 + v2_);
            let _e37 = a4_;
            let _e38 = psi_m2_push(_e37, v2_);
            a4_ = _e38;
        }
        continuing {
            let _e39 = r;
            r = (_e39 + 64u);
        }
    }
    let _e44 = a3_;
    sh_f[lid] = _e44;
    workgroupBarrier();
    loop {
        let _e47 = s;
        if (_e47 > 0u) {
        } else {
            break;
        }
        {
            let _e50 = s;
            if (lid < _e50) {
                let _e56 = sh_f[lid];
                let _e58 = s;
                let _e61 = sh_f[(lid + _e58)];
                sh_f[lid] = (_e56 + _e61);
            }
            workgroupBarrier();
        }
        continuing {
            let _e63 = s;
            s = (_e63 >> 1u);
        }
    }
    let v3_ = sh_f[0];
    workgroupBarrier();
    let _e71 = a4_;
    sh_v3_[lid] = _e71;
    workgroupBarrier();
    loop {
        let _e74 = s_1;
        if (_e74 > 0u) {
        } else {
            break;
        }
        {
            let _e77 = s_1;
            if (lid < _e77) {
                let _e83 = sh_v3_[lid];
                let _e85 = s_1;
                let _e88 = sh_v3_[(lid + _e85)];
                let _e89 = psi_m2_comb(_e83, _e88);
                sh_v3_[lid] = _e89;
            }
            workgroupBarrier();
        }
        continuing {
            let _e90 = s_1;
            s_1 = (_e90 >> 1u);
        }
    }
    let v4_ = sh_v3_[0].z;
    workgroupBarrier();
    let v5_ = (v3_ / 64f);
    let v6_ = (v4_ / 64f);
    let v7_ = (v6_ + 0.00001f);
    let v8_ = (1f / sqrt(v7_));
    r_1 = lid;
    loop {
        let _e104 = r_1;
        if (_e104 < 64u) {
        } else {
            break;
        }
        {
            let _e107 = r_1;
            let c1_1 = i32(_e107);
            let _e117 = s0_[u32(((0i + (64i * c0_)) + c1_1))];
            let v9_ = bitcast<f32>(_e117);
            let v10_ = (v9_ - v5_);
            let v11_ = (v10_ * v8_);
            let _e126 = s1_[u32((0i + c1_1))];
            let v12_ = bitcast<f32>(_e126);
            let v13_ = (v11_ * v12_);
            let _e134 = s2_[u32((0i + c1_1))];
            let v14_ = bitcast<f32>(_e134);
            let v15_ = (v13_ + v14_);
            s3_[u32(((0i + (64i * c0_)) + c1_1))] = bitcast<u32>(v15_);
        }
        continuing {
            let _e146 = r_1;
            r_1 = (_e146 + 64u);
        }
    }
    return;
}

