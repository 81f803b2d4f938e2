pub struct StreamConfig;
pub struct StreamHandle;
pub struct StreamProjector;
