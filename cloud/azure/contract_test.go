package azure

import "github.com/lbhc/lbhc/cloud"

var NewMetrics = cloud.NewMetrics
