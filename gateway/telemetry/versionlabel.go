package telemetry

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// versionLabel is the label every series carries: the config version
// the instance runs, so that a gray release's candidate and stable
// instances can be told apart in any query (error rates, latencies)
// without a join.
const versionLabel = "config_version"

// versionLabeled adds versionLabel to every series at scrape time: the
// series themselves keep their labels, so a reload that changes the
// version does not touch the request path.
type versionLabeled struct {
	g       prometheus.Gatherer
	version func() string
}

func (v versionLabeled) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := v.g.Gather()
	ver := v.version()
	if ver == "" {
		return mfs, err
	}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			if hasLabel(m, versionLabel) {
				continue
			}
			m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(versionLabel), Value: proto.String(ver)})
			sort.Slice(m.Label, func(i, j int) bool { return m.Label[i].GetName() < m.Label[j].GetName() })
		}
	}
	return mfs, err
}

func hasLabel(m *dto.Metric, name string) bool {
	for _, l := range m.Label {
		if l.GetName() == name {
			return true
		}
	}
	return false
}
