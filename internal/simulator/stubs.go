package simulator

// Placeholders until each service's REST surface lands in its own file.
// Each helper replaces its stub: delete the function here and define it
// in the service's file.

func (s *Simulator) sentinelRoutes() {}
func (s *Simulator) defenderRoutes() {}
func (s *Simulator) graphRoutes()    {}
func (s *Simulator) devopsRoutes()   {}

func (s *Simulator) defenderAlertID(a *DefenderAlert) string {
	return "/subscriptions/" + s.opt.SubscriptionID + "/resourceGroups/" + a.ResourceGroup +
		"/providers/Microsoft.Security/locations/" + a.Location + "/alerts/" + a.Name
}
