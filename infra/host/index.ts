export { HostSlices, type HostSlicesArgs } from "./component";
export { cgroupParentFor, childSliceName, sliceCgroupPath, ROLES, type CgroupDriver } from "./names";
export { planSlices, sliceProblems, slicesOf, type SlicePlan, type SliceSettings, type SliceSpec } from "./plan";
export { applyScript, deleteScript, showScript } from "./scripts";
export { remoteCommand, shellQuote } from "./shell";
export { unitText, expectedShow } from "./unitFile";
export { compareWithHost, formatDriftReport, parseShowOutput, type DriftReport } from "./drift";
export { MonitorKeeper, keeperSpecOf, type MonitorKeeperArgs, type KeeperSettings } from "./keeper";
export { keeperApplyScript, keeperDeleteScript, keeperNames, keeperScript, serviceUnitText, timerUnitText, type KeeperSpec } from "./keeperUnits";
