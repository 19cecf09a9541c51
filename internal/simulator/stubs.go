package simulator

// Placeholders until each service's REST surface lands in its own file.
// Each helper replaces its stub: delete the function here and define it
// in the service's file.
