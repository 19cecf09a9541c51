package defender_test

import "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/security/armsecurity"

func armStatus(s string) armsecurity.AlertStatus { return armsecurity.AlertStatus(s) }
